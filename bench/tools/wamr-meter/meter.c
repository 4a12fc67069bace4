/*
 * wamr-meter: runs a Fluent Bit filter module the way Fluent Bit 5.1.1 does
 * (plugins/filter_wasm, src/wasm/flb_wasm.c: one instance, the tag and the
 * record copied into the module's heap with their NUL, six i32 arguments,
 * the answer read as a NUL-terminated string), in the same WAMR release
 * built the same way (fast interpreter), but without Fluent Bit around it:
 * what the module itself costs, per record.
 *
 *   meter MODULE FUNCTION RECORDS [--repeat N]
 *
 * RECORDS holds one JSON record a line. Prints CPU nanoseconds per record
 * (the best of N passes after a warm-up pass). The other builds (build.sh)
 * also print interpreter dispatches per record (meter-count), by opcode
 * (meter-ops, totals over every pass) or by wasm function (meter-fprof:
 * WAMR's profiler, "ms" read as thousands of dispatches); these do not vary
 * from run to run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <limits.h>

#include "wasm_export.h"
#ifdef METER_DISPATCHES
#include "wasm_exec_env.h"
#endif

#ifdef METER_OPS
void wamr_meter_dump_op_count(void);
#endif

static char *read_file(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*size + 1);
    if (fread(buf, 1, *size, f) != (size_t)*size) { perror(path); exit(2); }
    buf[*size] = 0;
    fclose(f);
    return buf;
}

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODULE FUNCTION RECORDS [--repeat N]\n", argv[0]);
        return 2;
    }
    int repeat = 3;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
    }
    long module_size, records_size;
    char *module_bytes = read_file(argv[1], &module_size);
    char *text = read_file(argv[3], &records_size);

    /* The records, one a line. */
    int count = 0, capacity = 1024;
    char **records = malloc(capacity * sizeof(char *));
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (count == capacity) records = realloc(records, (capacity *= 2) * sizeof(char *));
        records[count++] = line;
    }

    RuntimeInitArgs init;
    memset(&init, 0, sizeof(init));
    init.mem_alloc_type = Alloc_With_Allocator;
    init.mem_alloc_option.allocator.malloc_func = malloc;
    init.mem_alloc_option.allocator.realloc_func = realloc;
    init.mem_alloc_option.allocator.free_func = free;
    if (!wasm_runtime_full_init(&init)) { fprintf(stderr, "runtime init failed\n"); return 1; }
    char error[128];
    wasm_module_t module = wasm_runtime_load((uint8_t *)module_bytes, module_size, error, sizeof(error));
    if (!module) { fprintf(stderr, "load: %s\n", error); return 1; }
    /* Fluent Bit's defaults: 8 KiB stack; the heap as the examples set it. */
    wasm_module_inst_t inst = wasm_runtime_instantiate(module, 8192, 4 << 20, error, sizeof(error));
    if (!inst) { fprintf(stderr, "instantiate: %s\n", error); return 1; }
    wasm_exec_env_t env = wasm_runtime_create_exec_env(inst, 8192);
    wasm_function_inst_t func = wasm_runtime_lookup_function(inst, argv[2]);
    if (!func) { fprintf(stderr, "no function %s\n", argv[2]); return 1; }

    const char *tag = "twingate.connector";
    long answers = 0, dropped = 0;
    double best = -1;
    long long dispatches = 0;
    for (int pass = 0; pass <= repeat; pass++) {
        double start = cpu_ns();
        long long pass_dispatches = 0;
        answers = dropped = 0;
        for (int i = 0; i < count; i++) {
            /* As flb_wasm_call_function_format_json does it, per record. */
            wasm_function_inst_t f = wasm_runtime_lookup_function(inst, argv[2]);
            size_t len = strlen(records[i]);
            uint64_t tag_buf = wasm_runtime_module_dup_data(inst, tag, strlen(tag) + 1);
            uint64_t rec_buf = wasm_runtime_module_dup_data(inst, records[i], len + 1);
            uint32_t args[6] = { (uint32_t)tag_buf, (uint32_t)strlen(tag), 0, 0, (uint32_t)rec_buf, (uint32_t)len };
#ifdef METER_DISPATCHES
            wasm_runtime_set_instruction_count_limit(env, INT_MAX);
#endif
            if (!wasm_runtime_call_wasm(env, f, 6, args)) {
                fprintf(stderr, "record %d: exception %s\n", i + 1, wasm_runtime_get_exception(inst));
                return 1;
            }
#ifdef METER_DISPATCHES
            pass_dispatches += (long long)INT_MAX - ((WASMExecEnv *)env)->instructions_to_execute;
#endif
            if (!wasm_runtime_validate_app_str_addr(inst, args[0])) { fprintf(stderr, "record %d: bad answer\n", i + 1); return 1; }
            char *answer = wasm_runtime_addr_app_to_native(inst, args[0]);
            char *copy = strdup(answer);
            if (copy[0]) answers++; else dropped++;
            free(copy);
            wasm_runtime_module_free(inst, tag_buf);
            wasm_runtime_module_free(inst, rec_buf);
            (void)func;
        }
        double ns = cpu_ns() - start;
        if (pass > 0 && (best < 0 || ns < best)) best = ns;
        if (pass > 0) dispatches = pass_dispatches;
    }
    printf("%d records (%ld answered, %ld dropped): %.0f ns per record (best of %d)", count, answers, dropped, best / count, repeat);
#ifdef METER_DISPATCHES
    printf(", %.0f dispatches per record", (double)dispatches / count);
#endif
    printf("\n");
#ifdef METER_OPS
    wamr_meter_dump_op_count();
#endif
#if WASM_ENABLE_PERF_PROFILING != 0
    wasm_runtime_dump_perf_profiling(inst);
#endif
    return 0;
}
