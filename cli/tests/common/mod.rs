//! A tiny WebAssembly binary encoder, enough to build the test modules the
//! host is tried on (the host has no `wat` parser, and these modules must
//! be exact: which exports, which globals, which pointer is returned).

#![allow(dead_code)]

/// Instructions, as bytes.
pub mod op {
    pub const UNREACHABLE: u8 = 0x00;
    pub const LOCAL_GET: u8 = 0x20;
    pub const GLOBAL_SET: u8 = 0x24;
    pub const I32_CONST: u8 = 0x41;
    pub const MEMORY_SIZE: [u8; 2] = [0x3F, 0x00];
    pub const I32_SUB: u8 = 0x6B;
    pub const I32_SHL: u8 = 0x74;
    /// `memory.fill` (bulk memory), memory 0.
    pub const MEMORY_FILL: [u8; 3] = [0xFC, 0x0B, 0x00];
}

pub const I32: u8 = 0x7F;

/// `i32.const value`.
pub fn i32_const(value: i32) -> Vec<u8> {
    let mut out = vec![op::I32_CONST];
    leb_i32(value, &mut out);
    out
}

/// `local.get index`.
pub fn local_get(index: u8) -> Vec<u8> {
    vec![op::LOCAL_GET, index]
}

/// A module under construction. Function indices count imports first.
#[derive(Default)]
pub struct Wasm {
    types: Vec<Vec<u8>>,
    imports: Vec<Vec<u8>>,
    functions: Vec<u32>,
    memory_pages: Option<u32>,
    globals: Vec<Vec<u8>>,
    exports: Vec<Vec<u8>>,
    codes: Vec<Vec<u8>>,
    data: Vec<Vec<u8>>,
}

impl Wasm {
    pub fn new() -> Self {
        Self::default()
    }

    /// A memory of `pages` initial pages, no maximum, exported as `memory`.
    pub fn memory(mut self, pages: u32) -> Self {
        self.memory_pages = Some(pages);
        self.exports.push(export("memory", 0x02, 0));
        self
    }

    /// A Fluent Bit filter function `(i32 x 6) -> i32` with this body.
    pub fn filter(self, name: &str, body: &[u8]) -> Self {
        self.function(name, &[I32; 6], &[I32], body)
    }

    pub fn function(mut self, name: &str, params: &[u8], results: &[u8], body: &[u8]) -> Self {
        let type_index = self.add_type(params, results);
        let index = (self.imports.len() + self.functions.len()) as u32;
        self.functions.push(type_index);
        self.exports.push(export(name, 0x00, index));
        let mut code = vec![0x00]; // no locals
        code.extend_from_slice(body);
        code.push(0x0B);
        self.codes.push(with_length(code));
        self
    }

    /// An imported function `() -> ()` (this host provides none).
    pub fn import_function(mut self, module: &str, name: &str) -> Self {
        let type_index = self.add_type(&[], &[]);
        let mut import = encode_name(module);
        import.extend(encode_name(name));
        import.push(0x00);
        leb_u32(type_index, &mut import);
        self.imports.push(import);
        self
    }

    /// An i32 global with this value, exported under `name` if given.
    pub fn global(mut self, name: Option<&str>, mutable: bool, value: i32) -> Self {
        let index = self.globals.len() as u32;
        let mut global = vec![I32, u8::from(mutable)];
        global.extend(i32_const(value));
        global.push(0x0B);
        self.globals.push(global);
        if let Some(name) = name {
            self.exports.push(export(name, 0x03, index));
        }
        self
    }

    /// Bytes at `offset` in memory 0.
    pub fn data(mut self, offset: i32, bytes: &[u8]) -> Self {
        let mut segment = vec![0x00];
        segment.extend(i32_const(offset));
        segment.push(0x0B);
        leb_u32(bytes.len() as u32, &mut segment);
        segment.extend_from_slice(bytes);
        self.data.push(segment);
        self
    }

    pub fn build(self) -> Vec<u8> {
        let mut out = b"\0asm\x01\0\0\0".to_vec();
        push_section(&mut out, 1, &self.types);
        push_section(&mut out, 2, &self.imports);
        let functions: Vec<Vec<u8>> = self
            .functions
            .iter()
            .map(|&type_index| {
                let mut entry = Vec::new();
                leb_u32(type_index, &mut entry);
                entry
            })
            .collect();
        push_section(&mut out, 3, &functions);
        if let Some(pages) = self.memory_pages {
            let mut memory = vec![0x00];
            leb_u32(pages, &mut memory);
            push_section(&mut out, 5, &[memory]);
        }
        push_section(&mut out, 6, &self.globals);
        push_section(&mut out, 7, &self.exports);
        push_section(&mut out, 10, &self.codes);
        push_section(&mut out, 11, &self.data);
        out
    }

    fn add_type(&mut self, params: &[u8], results: &[u8]) -> u32 {
        let mut ty = vec![0x60];
        leb_u32(params.len() as u32, &mut ty);
        ty.extend_from_slice(params);
        leb_u32(results.len() as u32, &mut ty);
        ty.extend_from_slice(results);
        self.types.push(ty);
        (self.types.len() - 1) as u32
    }
}

fn export(name: &str, kind: u8, index: u32) -> Vec<u8> {
    let mut entry = encode_name(name);
    entry.push(kind);
    leb_u32(index, &mut entry);
    entry
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    leb_u32(name.len() as u32, &mut out);
    out.extend_from_slice(name.as_bytes());
    out
}

fn with_length(bytes: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    leb_u32(bytes.len() as u32, &mut out);
    out.extend(bytes);
    out
}

/// A section holding a vector of entries; nothing when there are none.
fn push_section(out: &mut Vec<u8>, id: u8, entries: &[Vec<u8>]) {
    if entries.is_empty() {
        return;
    }
    let mut contents = Vec::new();
    leb_u32(entries.len() as u32, &mut contents);
    for entry in entries {
        contents.extend_from_slice(entry);
    }
    out.push(id);
    out.extend(with_length(contents));
}

fn leb_u32(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn leb_i32(mut value: i32, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
