//! `twingate`: Fluent Bit's WASM filter, on the command line.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use twingate_cli::Verdict;
use twingate_cli::filter::{
    Filter, NATIVE_FUNCTIONS, NativeFilter, native_options, profile_function,
};
use twingate_cli::input::{RecordReader, Shape};
use twingate_cli::report::{Summary, Tally};
use twingate_cli::settings::{DEFAULT_FUNCTION, DEFAULT_HEAP_SIZE};
#[cfg(feature = "host")]
use twingate_cli::settings::{MAX_HEAP_SIZE, parse_size};

const HELP: &str = "\
twingate: turns Twingate Connector ANALYTICS lines into flat log records,
running the wasm module exactly as Fluent Bit's WASM filter does.

USAGE:
    twingate [OPTIONS] [FILE|DIR|-]...

Reads each FILE (a DIR: its *.log, *.ndjson, *.json, *.jsonl and *.txt
files, sorted; `-` or nothing: standard input), detects its shape on its
own, and writes one JSON record a line (NDJSON) to standard output (from
standard input, each record as soon as it is made). A summary goes to
standard error.

OPTIONS:
    --module PATH       the wasm module [default: MODULE_DEFAULT]
    --function NAME     the export to call [default: twingate_flatten]
    --profile NAME      flatten|ecs|ocsf: the output schema [default: flatten]
                        (calls twingate_NAME)
    --keep              pass records without analytics on unchanged
                        (calls twingate_NAME_keep)
    --native            run the core library directly instead of the module
    --format SHAPE      auto|lines|docker|cri|journal|json [default: auto]
                          lines    raw connector output, syslog: {\"log\": line}
                          docker   Docker json-file entries
                          cri      <time> <stream> <P|F> <line> (Kubernetes)
                          journal  journalctl -o json
                          json     one JSON record a line
    --no-multiline      do not join Docker partial entries and CRI P parts
                        (Fluent Bit: multiline.parser docker, cri)
    --heap-size SIZE    Fluent Bit's wasm_heap_size: 8192, 64K, 4M
                        [default: 8192; Fluent Bit ignores smaller values]
    --tag TAG           the record tag [default: twingate.connector]
    --fuel              count wasm instructions executed per record (wasmtime
                        fuel; a memory.copy or memory.fill counts once); slower
    -q, --quiet         write no records, only the summary
    -h, --help          this help
    -V, --version       the version

EXIT STATUS:
    0  every record has its outcome (event, dropped or kept, error record)
    1  the module, an input or the output failed (also: output pipe closed)
    2  bad usage
    3  some records were lost (trap, invalid result), as Fluent Bit would
       lose them; each is reported on standard error
";

/// How this build differs: the WASI command (no `host` feature) has no
/// wasm host and always runs the core natively.
#[cfg(feature = "host")]
const BUILD_NOTE: &str = "";
#[cfg(not(feature = "host"))]
const BUILD_NOTE: &str = "
THIS BUILD (no wasm host, e.g. the wasm32-wasip1 command):
    Runs the core natively, always (--native is implied). --module,
    --heap-size and --fuel need the native `twingate` built with its host.
    Under WASI, files and directories are readable only where the runtime
    grants access (`wasmtime run --dir DIR ...`); standard input always is.
";
/// Added to "cannot read" messages: under WASI a path is only readable in
/// a directory the runtime was told to share.
#[cfg(target_os = "wasi")]
const READ_HINT: &str = " (a WASI command reads only directories the runtime shares: `wasmtime run --dir DIR ...`; or pipe the file to standard input)";
#[cfg(not(target_os = "wasi"))]
const READ_HINT: &str = "";

const MODULE_RELATIVE: &str = "target/wasm32-unknown-unknown/release/twingate_analytics.wasm";
const DEFAULT_TAG: &str = "twingate.connector";
/// Lost records reported one by one; the rest only in the summary.
const LOST_WARNINGS: u64 = 10;

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1)) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("twingate: {failure}");
            failure.exit_code()
        }
    }
}

/// Why the run stopped early.
enum Failure {
    Usage(String),
    Runtime(String),
    BrokenPipe,
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::from(2),
            Self::Runtime(_) | Self::BrokenPipe => ExitCode::from(1),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) => write!(f, "{message} (see `twingate --help`)"),
            Self::Runtime(message) => f.write_str(message),
            Self::BrokenPipe => f.write_str("standard output closed (broken pipe); stopped"),
        }
    }
}

impl From<lexopt::Error> for Failure {
    fn from(error: lexopt::Error) -> Self {
        Self::Usage(error.to_string())
    }
}

/// The command line.
// Without the host, the module's settings are parsed (and refused) but
// never read.
#[cfg_attr(not(feature = "host"), allow(dead_code))]
struct Args {
    inputs: Vec<OsString>,
    module: Option<PathBuf>,
    function: Option<String>,
    profile: String,
    keep: bool,
    native: bool,
    format: Shape,
    multiline: bool,
    heap_size: u64,
    tag: String,
    count_fuel: bool,
    quiet: bool,
}

enum Command {
    Run(Args),
    Help,
    Version,
}

fn run(arguments: impl IntoIterator<Item = OsString>) -> Result<ExitCode, Failure> {
    let args = match parse_args(arguments)? {
        Command::Run(args) => args,
        Command::Help => {
            print!(
                "{}{BUILD_NOTE}",
                HELP.replace("MODULE_DEFAULT", MODULE_RELATIVE)
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            println!("twingate {}", env!("CARGO_PKG_VERSION"));
            return Ok(ExitCode::SUCCESS);
        }
    };
    let inputs = expand_inputs(&args.inputs)?;
    let (mut filter, engine) = build_filter(&args)?;
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    let mut warnings = LostWarnings::default();
    let started = Instant::now();
    let mut total = Tally::default();
    let mut shapes = Vec::new();
    for input in &inputs {
        let (tally, shape, elapsed) =
            process(input, &args, filter.as_mut(), &mut out, &mut warnings)?;
        if inputs.len() > 1 {
            out.flush().map_err(output_failure)?;
            let label = input.to_string();
            let shape = shape.name();
            eprintln!(
                "{}",
                Summary {
                    label: Some(&label),
                    shape,
                    tally: &tally,
                    elapsed,
                    engine: &engine
                }
            );
        }
        total.add(&tally);
        shapes.push(shape);
    }
    out.flush().map_err(output_failure)?;
    warnings.report_suppressed();
    let shape = shapes_label(&shapes);
    let label = (inputs.len() > 1).then_some("total");
    let elapsed = started.elapsed();
    eprintln!(
        "{}",
        Summary {
            label,
            shape: &shape,
            tally: &total,
            elapsed,
            engine: &engine
        }
    );
    debug_assert!(total.is_balanced());
    Ok(if total.lost > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn parse_args(arguments: impl IntoIterator<Item = OsString>) -> Result<Command, Failure> {
    use lexopt::prelude::*;
    let mut args = Args {
        inputs: Vec::new(),
        module: None,
        function: None,
        profile: "flatten".to_owned(),
        keep: false,
        native: false,
        format: Shape::Auto,
        multiline: true,
        heap_size: DEFAULT_HEAP_SIZE,
        tag: DEFAULT_TAG.to_owned(),
        count_fuel: false,
        quiet: false,
    };
    let mut parser = lexopt::Parser::from_args(arguments);
    while let Some(arg) = parser.next()? {
        match arg {
            #[cfg(not(feature = "host"))]
            Long(option @ ("module" | "heap-size" | "fuel")) => {
                return Err(Failure::Usage(format!(
                    "--{option} needs the wasm host, which this build (the WASI command) does not have: it runs the core natively; use the native `twingate` for the module"
                )));
            }
            #[cfg(feature = "host")]
            Long("module") => args.module = Some(parser.value()?.into()),
            Long("function") => args.function = Some(parser.value()?.string()?),
            Long("profile") => args.profile = parse_profile(&parser.value()?.string()?)?,
            Long("keep") => args.keep = true,
            Long("native") => args.native = true,
            Long("format") => args.format = parse_format(&parser.value()?.string()?)?,
            Long("no-multiline") => args.multiline = false,
            #[cfg(feature = "host")]
            Long("heap-size") => args.heap_size = parse_heap_size(&parser.value()?.string()?)?,
            Long("tag") => args.tag = parser.value()?.string()?,
            #[cfg(feature = "host")]
            Long("fuel") => args.count_fuel = true,
            Short('q') | Long("quiet") => args.quiet = true,
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Value(input) => args.inputs.push(input),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Run(args))
}

fn parse_profile(name: &str) -> Result<String, Failure> {
    match twingate_analytics::Profile::from_name(name) {
        Some(_) => Ok(name.to_owned()),
        None => Err(Failure::Usage(format!(
            "--profile {name}: expected flatten, ecs or ocsf"
        ))),
    }
}

fn parse_format(name: &str) -> Result<Shape, Failure> {
    Shape::from_name(name)
        .ok_or_else(|| Failure::Usage(format!("--format {name}: expected one of {}", Shape::NAMES)))
}

#[cfg(feature = "host")]
fn parse_heap_size(text: &str) -> Result<u64, Failure> {
    match parse_size(text) {
        Some(size) if size <= MAX_HEAP_SIZE => Ok(size),
        Some(_) => Err(Failure::Usage(format!("--heap-size {text}: at most 1G"))),
        None => Err(Failure::Usage(format!(
            "--heap-size {text}: expected bytes, or a number with K, M or G"
        ))),
    }
}

/// One input: a file, or standard input.
enum Input {
    Stdin,
    File(PathBuf),
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdin => f.write_str("-"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Files, directories (their regular files, sorted) and `-`; nothing means
/// standard input. Every path is checked before any is read.
/// The files a directory argument stands for (named files are always read).
const LOG_EXTENSIONS: [&str; 5] = ["log", "ndjson", "json", "jsonl", "txt"];

fn expand_inputs(arguments: &[OsString]) -> Result<Vec<Input>, Failure> {
    if arguments.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut inputs = Vec::new();
    for argument in arguments {
        if argument == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(argument);
        let metadata = std::fs::metadata(&path).map_err(|error| {
            Failure::Runtime(format!(
                "cannot read {}: {error}{READ_HINT}",
                path.display()
            ))
        })?;
        if metadata.is_dir() {
            inputs.extend(directory_files(&path)?.into_iter().map(Input::File));
        } else {
            inputs.push(Input::File(path));
        }
    }
    Ok(inputs)
}

fn directory_files(directory: &Path) -> Result<Vec<PathBuf>, Failure> {
    let unreadable = |error: io::Error| {
        Failure::Runtime(format!(
            "cannot read {}: {error}{READ_HINT}",
            directory.display()
        ))
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        // Log files only: a README or a config beside the logs is not input.
        let is_log = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| LOG_EXTENSIONS.contains(&e));
        if path.is_file() && is_log {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The filter to run, and how to name it in the summary.
fn build_filter(args: &Args) -> Result<(Box<dyn Filter>, String), Failure> {
    let default_function = profile_function(&args.profile, args.keep);
    let function = args.function.as_deref().unwrap_or(&default_function);
    #[cfg(feature = "host")]
    if !args.native {
        return module_filter(args, function);
    }
    let options = native_options(function).ok_or_else(|| {
        Failure::Usage(format!("--native runs {NATIVE_FUNCTIONS}, not {function}"))
    })?;
    Ok((Box::new(NativeFilter::new(options)), native_label(function)))
}

/// The module in the Fluent Bit twin host.
#[cfg(feature = "host")]
fn module_filter(args: &Args, function: &str) -> Result<(Box<dyn Filter>, String), Failure> {
    use twingate_cli::filter::ModuleFilter;
    use twingate_cli::host::{FluentBitHost, HostOptions, effective_heap_size};
    if args.heap_size < DEFAULT_HEAP_SIZE {
        eprintln!(
            "twingate: note: Fluent Bit ignores wasm_heap_size values up to {DEFAULT_HEAP_SIZE}; using {DEFAULT_HEAP_SIZE}"
        );
    }
    let options = HostOptions {
        function: function.to_owned(),
        heap_size: args.heap_size,
        count_fuel: args.count_fuel,
        ..HostOptions::default()
    };
    let module = args.module.clone().unwrap_or_else(default_module_path);
    let host = FluentBitHost::from_file(&module, &options)
        .map_err(|error| Failure::Runtime(error.to_string()))?;
    let mut engine = String::from("module");
    if function != DEFAULT_FUNCTION {
        engine.push(' ');
        engine.push_str(function);
    }
    engine.push_str(&format!(", heap {}", effective_heap_size(args.heap_size)));
    Ok((Box::new(ModuleFilter::new(host, &args.tag)), engine))
}

fn native_label(function: &str) -> String {
    match function {
        DEFAULT_FUNCTION => "native".to_owned(),
        _ => format!("native {function}"),
    }
}

/// The module built in this workspace: from the current directory, else
/// from the workspace this binary was built in.
#[cfg(feature = "host")]
fn default_module_path() -> PathBuf {
    let local = PathBuf::from(MODULE_RELATIVE);
    if local.is_file() {
        return local;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(MODULE_RELATIVE);
    if workspace.is_file() {
        workspace
    } else {
        local
    }
}

/// Runs every record of one input through the filter.
fn process(
    input: &Input,
    args: &Args,
    filter: &mut dyn Filter,
    out: &mut impl Write,
    warnings: &mut LostWarnings,
) -> Result<(Tally, Shape, Duration), Failure> {
    let started = Instant::now();
    let read_failure =
        |error: io::Error| Failure::Runtime(format!("cannot read {input}: {error}{READ_HINT}"));
    let source: Box<dyn BufRead> = match input {
        Input::Stdin => Box::new(io::stdin().lock()),
        Input::File(path) => Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(path).map_err(read_failure)?,
        )),
    };
    let mut reader =
        RecordReader::new(source, args.format, args.multiline).map_err(read_failure)?;
    let mut tally = Tally::default();
    while let Some(record) = reader.next_record().map_err(read_failure)? {
        let verdict = filter.filter(record);
        tally.count(&verdict, filter.last_fuel());
        if let Verdict::Lost(reason) = &verdict {
            warnings.lost(input, reader.stats().lines, reason);
        }
        if verdict.has_output() && !args.quiet {
            out.write_all(filter.output()).map_err(output_failure)?;
            out.write_all(b"\n").map_err(output_failure)?;
            // A stream (`journalctl -f | twingate -`, Vector's exec source)
            // gets each record at once, not when 64 KiB have piled up.
            if matches!(input, Input::Stdin) {
                out.flush().map_err(output_failure)?;
            }
        }
    }
    tally.read = reader.stats();
    Ok((tally, reader.shape(), started.elapsed()))
}

fn output_failure(error: io::Error) -> Failure {
    match error.kind() {
        io::ErrorKind::BrokenPipe => Failure::BrokenPipe,
        _ => Failure::Runtime(format!("cannot write to standard output: {error}")),
    }
}

/// Reports lost records on standard error, the first few one by one.
#[derive(Default)]
struct LostWarnings {
    count: u64,
}

impl LostWarnings {
    fn lost(&mut self, input: &Input, line: u64, reason: &str) {
        self.count += 1;
        if self.count <= LOST_WARNINGS {
            eprintln!("twingate: warning: {input}:{line}: record lost: {reason}");
        }
    }

    fn report_suppressed(&self) {
        if self.count > LOST_WARNINGS {
            eprintln!(
                "twingate: warning: {} more records lost (not shown)",
                self.count - LOST_WARNINGS
            );
        }
    }
}

/// The shape for the total: the one shape, or how many files of which.
fn shapes_label(shapes: &[Shape]) -> String {
    match shapes {
        [] => "no input".to_owned(),
        [first, rest @ ..] if rest.iter().all(|shape| shape == first) => first.name().to_owned(),
        _ => {
            let mut names: Vec<&str> = Vec::new();
            for shape in shapes {
                if !names.contains(&shape.name()) {
                    names.push(shape.name());
                }
            }
            names.join(" + ")
        }
    }
}
