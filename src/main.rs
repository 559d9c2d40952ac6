//! The `labcheck` command: parses arguments, calls the library, maps
//! outcomes to exit codes (0 conform, 1 non-conform, 2 bad usage or invalid
//! input, 3 incomplete).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use labcheck::audit::{self, AuditError, AuditOptions};
use labcheck::evaluate::Overall;
use labcheck::i18n::Lang;
use labcheck::report::{self, Format, RenderOptions};
use labcheck::{explain, profile, validate};

const EXIT_CONFORM: u8 = 0;
const EXIT_NON_CONFORM: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INCOMPLETE: u8 = 3;

#[derive(Parser)]
#[command(
    name = "labcheck",
    version,
    about = "Audit a BTS SIO lab against Annexe II.E and say, requirement by requirement, whether it is fit for the exam",
    long_about = "Audit a BTS SIO lab against Annexe II.E (arrêté du 29 avril 2019) and say, requirement by \
requirement, whether it is fit for the exam, with the evidence.\n\n\
Exit codes: 0 conform · 1 non-conform · 2 bad usage or invalid input · 3 incomplete \
(nothing non-conform, but something could not be verified).",
    after_help = "Examples:\n  labcheck audit --profile sisr                      audit this machine alone\n  labcheck audit --inventory lab.toml --format html --output rapport.html\n  labcheck validate lab.toml\n  labcheck profiles show sisr.monitoring --lang fr"
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Probe the lab and report conformity, requirement by requirement.
    Audit(AuditArgs),
    /// Check profiles, inventories and catalogs; print every problem with file:line:column.
    Validate {
        /// Files to check (the kind is recognised from the content).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// What each profile checks and how.
    Profiles {
        #[command(subcommand)]
        what: Option<ProfilesCmd>,
        /// Profile: sisr, slam or a profile file.
        #[arg(long, short, default_value = "sisr", global = true)]
        profile: String,
        /// Interface language (default: from LANG).
        #[arg(long, global = true, value_parser = parse_lang)]
        lang: Option<Lang>,
    },
    /// Run the daemon: scheduled audits, history, dashboard, JSON API, /metrics, alerts.
    Serve {
        /// The daemon's configuration (TOML, see docs/daemon.md).
        #[arg(long, short)]
        config: PathBuf,
        /// History database [default: server.db, else $XDG_DATA_HOME/labcheck/labcheck.db].
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Past audits of a lab from the daemon's history, newest first.
    History {
        /// The lab's name in the daemon's configuration.
        lab: String,
        /// History database [default: $XDG_DATA_HOME/labcheck/labcheck.db].
        #[arg(long)]
        db: Option<PathBuf>,
        /// How many audits.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// text or json.
        #[arg(long, short, default_value = "text")]
        format: OutFormat,
    },
    /// What changed between two reports (JSON report files or history ids); exit 0 if nothing, 1 if something changed.
    Diff {
        /// The older report: a JSON report file or a history id.
        from: String,
        /// The newer report: a JSON report file or a history id.
        to: String,
        /// History database, for ids [default: $XDG_DATA_HOME/labcheck/labcheck.db].
        #[arg(long)]
        db: Option<PathBuf>,
        /// text or json.
        #[arg(long, short, default_value = "text")]
        format: OutFormat,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum ProfilesCmd {
    /// One line per requirement and group.
    List,
    /// Everything about one requirement or group: wording, how it is checked, what to do.
    Show { id: String },
    /// The capabilities rules can name (for profile authors).
    Capabilities,
}

#[derive(clap::Args)]
struct AuditArgs {
    /// sisr, slam or a profile file [default: the inventory's option, else sisr].
    #[arg(long, short)]
    profile: Option<String>,
    /// The lab's inventory (TOML). Without it, this machine alone is audited.
    #[arg(long, short)]
    inventory: Option<PathBuf>,
    /// text, json, junit, markdown, html, attestation (the exam's Annexe VII-7 table, Markdown) or attestation-html.
    #[arg(long, short, default_value = "text")]
    format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Interface language, fr or en [default: from LANG].
    #[arg(long, value_parser = parse_lang)]
    lang: Option<Lang>,
    /// Connections in flight at once, all hosts together.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u16).range(1..=4096))]
    concurrency: u16,
    /// Bound of each probe (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    timeout: std::time::Duration,
    /// Only these requirement or group ids, comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// SSH: accept a host key not yet in known_hosts and append it there
    /// (never for a changed key). Without it, unknown keys refuse the host.
    #[arg(long)]
    trust_on_first_use: bool,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    match s {
        "fr" => Ok(Lang::Fr),
        "en" => Ok(Lang::En),
        other => Err(format!("unknown language `{other}` (fr or en)")),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d = labcheck::duration::parse(s)?;
    if d.is_zero() || d > std::time::Duration::from_secs(600) {
        return Err(format!("`{s}`: the timeout must be between 1ms and 10m"));
    }
    Ok(d)
}

fn main() -> ExitCode {
    labcheck::tls_provider::install_crypto();
    let cli = Cli::parse();
    init_logs(cli.verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("labcheck: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn init_logs(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Audit(args) => run_audit(args),
        Command::Validate { files } => Ok(run_validate(&files)),
        Command::Profiles {
            what,
            profile,
            lang,
        } => run_profiles(what, &profile, lang.unwrap_or_else(Lang::from_env)),
        Command::Serve { config, db } => run_serve(&config, db),
        Command::History {
            lab,
            db,
            limit,
            format,
        } => run_history(&lab, db, limit, format),
        Command::Diff {
            from,
            to,
            db,
            format,
        } => run_diff(&from, &to, db, format),
    }
}

fn run_audit(args: AuditArgs) -> Result<u8> {
    if let Some(out) = &args.output {
        guard_output(out, &args)?;
    }
    let progress: Option<labcheck::probe::Progress> = std::io::stderr().is_terminal().then(|| {
        Arc::new(|done: usize, total: usize| {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\rprobing… {done}/{total}");
            if done >= total {
                let _ = write!(e, "\r\x1b[K");
            }
            let _ = e.flush();
        }) as labcheck::probe::Progress
    });
    let opts = AuditOptions {
        profile: args.profile.clone(),
        inventory: args.inventory.clone(),
        // The exam's form is French whatever the interface language.
        lang: match args.format {
            Format::Attestation | Format::AttestationHtml => Lang::Fr,
            _ => args.lang.unwrap_or_else(Lang::from_env),
        },
        timeout: args.timeout,
        concurrency: usize::from(args.concurrency),
        only: args.only.clone(),
        trust_on_first_use: args.trust_on_first_use,
        progress,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = match runtime.block_on(audit::run(opts)) {
        Ok(r) => r,
        Err(AuditError::Invalid(diags)) => {
            eprint!("{diags}");
            eprintln!("labcheck: {} error(s); nothing was probed", diags.errors());
            return Ok(EXIT_USAGE);
        }
        Err(e) => bail!(e),
    };
    let color = args.output.is_none()
        && args.format == Format::Text
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let rendered = report::render(&report, args.format, RenderOptions { color });
    match &args.output {
        Some(path) => write_atomically(path, rendered.as_bytes())
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (labcheck … | head) is not an error worth a message.
            let _ = out.write_all(rendered.as_bytes());
        }
    }
    Ok(match report.verdict {
        Overall::Conform => EXIT_CONFORM,
        Overall::NonConform => EXIT_NON_CONFORM,
        Overall::Incomplete => EXIT_INCOMPLETE,
    })
}

/// Refuses to write the report over one of the audit's own inputs.
fn guard_output(out: &Path, args: &AuditArgs) -> Result<()> {
    let inputs = [
        args.inventory.clone(),
        args.profile.clone().map(PathBuf::from),
    ];
    for input in inputs.iter().flatten() {
        if same_file(out, input) {
            bail!(
                "--output {} is one of the audit's inputs; choose another file",
                out.display()
            );
        }
    }
    if out.is_dir() {
        bail!(
            "--output {} is a directory; give a file name",
            out.display()
        );
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Writes through a temporary file in the same folder, then renames: an
/// interrupted run never leaves a half-written report.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.labcheck-tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("report"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}

fn run_validate(files: &[PathBuf]) -> u8 {
    let mut errors = 0;
    for f in files {
        let (kind, diags) = validate::lint(f);
        eprint!("{diags}");
        errors += diags.errors();
        let warnings = diags.0.len() - diags.errors();
        let kind = kind.map(|k| k.as_str()).unwrap_or("file");
        if diags.errors() == 0 {
            println!(
                "{}: valid {kind}{}",
                f.display(),
                if warnings > 0 {
                    format!(" ({warnings} warning(s))")
                } else {
                    String::new()
                }
            );
        } else {
            println!(
                "{}: invalid {kind}: {} error(s), {warnings} warning(s)",
                f.display(),
                diags.errors()
            );
        }
    }
    if errors > 0 { EXIT_USAGE } else { EXIT_CONFORM }
}

fn run_profiles(what: Option<ProfilesCmd>, spec: &str, lang: Lang) -> Result<u8> {
    if let Some(ProfilesCmd::Capabilities) = what {
        print!("{}", explain::capabilities());
        return Ok(EXIT_CONFORM);
    }
    let p = match profile::load(spec) {
        Ok(p) => p,
        Err(d) => {
            eprint!("{d}");
            return Ok(EXIT_USAGE);
        }
    };
    match what {
        None | Some(ProfilesCmd::List) => print!("{}", explain::list(&p, lang)),
        Some(ProfilesCmd::Show { id }) => match explain::show(&p, &id, lang) {
            Some(text) => print!("{text}"),
            None => bail!(
                "no requirement or group `{id}` in profile `{}` (see `labcheck profiles list --profile {spec}`)",
                p.id
            ),
        },
        Some(ProfilesCmd::Capabilities) => unreachable!("handled above"),
    }
    Ok(EXIT_CONFORM)
}

fn run_serve(config: &Path, db: Option<PathBuf>) -> Result<u8> {
    let cfg = match labcheck::daemon::Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("labcheck: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    let db = labcheck::daemon::db_path(&cfg, db)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(labcheck::daemon::serve(cfg, db))?;
    // Audits cancelled at shutdown may leave probe tasks behind: don't wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    Ok(EXIT_CONFORM)
}

/// Opens an existing history (never creates one for a read).
fn open_history(db: Option<PathBuf>) -> Result<labcheck::store::Store> {
    let path = match db {
        Some(p) => p,
        None => labcheck::store::default_path()?,
    };
    if !path.exists() {
        bail!(
            "no history at {} (pass --db FILE, the database of `labcheck serve`)",
            path.display()
        );
    }
    labcheck::store::Store::open(&path)
}

fn run_history(lab: &str, db: Option<PathBuf>, limit: usize, format: OutFormat) -> Result<u8> {
    let store = open_history(db)?;
    let rows = store.history(lab, limit)?;
    if format == OutFormat::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(EXIT_CONFORM);
    }
    if rows.is_empty() {
        println!("no audit of `{lab}` in {}", store.path().display());
        return Ok(EXIT_CONFORM);
    }
    println!(
        "{:>6}  {:<30}  {:<12}  {:>8}  trigger",
        "id", "started at", "verdict", "ms"
    );
    for r in rows {
        println!(
            "{:>6}  {:<30}  {:<12}  {:>8}  {}",
            r.id, r.started_at, r.verdict, r.duration_ms, r.trigger
        );
    }
    Ok(EXIT_CONFORM)
}

fn run_diff(from: &str, to: &str, db: Option<PathBuf>, format: OutFormat) -> Result<u8> {
    let mut store = None;
    let mut load = |spec: &str| -> Result<labcheck::report::AuditReport> {
        let path = Path::new(spec);
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            return serde_json::from_str(&text)
                .with_context(|| format!("{}: not a labcheck JSON report", path.display()));
        }
        let Ok(id) = spec.parse::<i64>() else {
            bail!("`{spec}` is neither a report file nor a history id");
        };
        if store.is_none() {
            store = Some(open_history(db.clone())?);
        }
        let s = store.as_ref().expect("opened above");
        match s.get(id)? {
            Some(a) => Ok(a.report),
            None => bail!("no audit {id} in {}", s.path().display()),
        }
    };
    let (a, b) = (load(from)?, load(to)?);
    let d = labcheck::diff::diff(&a, &b);
    match format {
        OutFormat::Json => println!("{}", serde_json::to_string_pretty(&d)?),
        OutFormat::Text => print!("{}", d.render_text()),
    }
    Ok(if d.is_empty() { 0 } else { 1 })
}
