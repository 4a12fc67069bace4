//! WAMR's app heap arithmetic and Fluent Bit's size options.

use twingate_cli::host::{
    AppHeap, Copies, HeapPlacement, block_size, effective_heap_size, parse_size,
};

const PAGE: u64 = 65536;

#[test]
fn ems_blocks_have_a_header_and_are_8_aligned_with_a_minimum_of_16() {
    assert_eq!(block_size(1), 16);
    assert_eq!(block_size(12), 16);
    assert_eq!(block_size(13), 24);
    assert_eq!(block_size(8164), 8168);
    assert_eq!(block_size(8165), 8176);
}

#[test]
fn the_default_heap_pool_holds_8184_bytes() {
    let heap = AppHeap {
        offset: 1_048_576,
        size: 8192,
    };
    assert_eq!(heap.pool_start(), 1_048_580);
    assert_eq!(heap.usable(), 8184);
}

#[test]
fn an_unaligned_heap_start_is_aligned_first() {
    let heap = AppHeap {
        offset: 1001,
        size: 8192,
    };
    assert_eq!(heap.pool_start(), 1012);
    assert_eq!(heap.usable(), (1001 + 8192 - 1012) & !7);
}

#[test]
fn the_largest_record_after_an_11_byte_tag_is_8163_bytes() {
    let heap = AppHeap {
        offset: 65536,
        size: 8192,
    };
    let fits = heap.copies(11, 8163);
    assert_eq!(
        fits,
        Copies {
            tag: Some(65544),
            record: Some(65560)
        }
    );
    let too_big = heap.copies(11, 8164);
    assert_eq!(
        too_big,
        Copies {
            tag: Some(65544),
            record: None
        }
    );
}

#[test]
fn a_tag_that_does_not_fit_leaves_the_pool_to_the_record() {
    let heap = AppHeap {
        offset: 0,
        size: 8192,
    };
    assert_eq!(
        heap.copies(9000, 100),
        Copies {
            tag: None,
            record: Some(8)
        }
    );
}

#[test]
fn the_heap_goes_at_heap_base_when_it_is_inside_the_initial_memory() {
    // A typical Rust module: 17 pages, __heap_base in the last one.
    let heap_base = 16 * PAGE + 4000;
    assert_eq!(
        AppHeap::place(Some(heap_base), 17, 8192),
        HeapPlacement {
            heap: AppHeap {
                offset: heap_base,
                size: 8192
            },
            grow_pages: 0
        }
    );
    // Too little room left in the page: grow.
    let heap_base = 16 * PAGE + 60_000;
    assert_eq!(AppHeap::place(Some(heap_base), 17, 8192).grow_pages, 1);
    // A big heap: as many pages as it needs past the page end.
    let heap_base = 16 * PAGE + 4000;
    assert_eq!(AppHeap::place(Some(heap_base), 17, 4 << 20).grow_pages, 64);
}

#[test]
fn a_page_is_added_when_less_than_1k_would_remain_after_the_heap() {
    assert_eq!(AppHeap::place(Some(57_000), 1, 8192).grow_pages, 1);
    assert_eq!(
        AppHeap::place(Some(56_000), 1, 8192).grow_pages,
        0,
        "1344 bytes remain"
    );
    // Heap ending exactly on a page boundary leaves nothing: one more page.
    assert_eq!(AppHeap::place(Some(PAGE - 8192), 1, 8192).grow_pages, 1);
}

#[test]
fn without_heap_base_the_heap_is_appended_in_whole_pages_less_1k() {
    assert_eq!(
        AppHeap::place(None, 2, 8192),
        HeapPlacement {
            heap: AppHeap {
                offset: 2 * PAGE,
                size: PAGE - 1024
            },
            grow_pages: 1
        }
    );
    assert_eq!(AppHeap::place(None, 2, 100_000).grow_pages, 2);
    // __heap_base beyond the initial memory: appended too.
    assert_eq!(
        AppHeap::place(Some(3 * PAGE), 2, 8192).heap.offset,
        2 * PAGE
    );
}

#[test]
fn fluent_bit_applies_only_heap_sizes_above_8k() {
    assert_eq!(effective_heap_size(0), 8192);
    assert_eq!(effective_heap_size(4096), 8192);
    assert_eq!(effective_heap_size(8192), 8192);
    assert_eq!(effective_heap_size(8193), 8193);
}

#[test]
fn sizes_read_like_fluent_bits_size_options() {
    assert_eq!(parse_size("8192"), Some(8192));
    assert_eq!(parse_size("64K"), Some(65536));
    assert_eq!(parse_size("64kb"), Some(65536));
    assert_eq!(parse_size("4M"), Some(4 << 20));
    assert_eq!(parse_size("1G"), Some(1 << 30));
    assert_eq!(parse_size(" 2MB "), Some(2 << 20));
    for bad in ["", "K", "4X", "-1", "1.5M", "4 M"] {
        assert_eq!(parse_size(bad), None, "{bad:?}");
    }
}
