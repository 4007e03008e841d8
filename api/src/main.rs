//! The `tandem` binary: reads secrets from `*_FILE` variables, parses the command line and hands
//! over to [`api::cli::run`].

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

/// Settings that can carry a secret. Each may instead come from the file its `<NAME>_FILE`
/// variable names (Docker secrets, systemd credentials), so it shows neither in `ps` nor in the
/// process environment of a container's inspect output.
const FILE_SETTINGS: &[&str] = &[
    "TANDEM_DATABASE_URL",
    "TANDEM_JWT_SECRET",
    "TANDEM_SECRET_KEY",
    "TANDEM_METRICS_TOKEN",
];

fn main() -> ExitCode {
    if let Err(message) = load_file_settings() {
        eprintln!("error: {message}");
        return ExitCode::FAILURE;
    }
    let cli = api::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(api::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sets each of [`FILE_SETTINGS`] from its `_FILE` variable's file (one trailing newline
/// dropped). Naming both the setting and its file is refused: which one wins would be a guess.
fn load_file_settings() -> Result<(), String> {
    for name in FILE_SETTINGS {
        let file_variable = format!("{name}_FILE");
        let Some(path) = std::env::var_os(&file_variable) else {
            continue;
        };
        if std::env::var_os(name).is_some() {
            return Err(format!("set {name} or {file_variable}, not both"));
        }
        let path = Path::new(&path);
        let value = std::fs::read_to_string(path).map_err(|error| {
            format!("cannot read {file_variable} ({}): {error}", path.display())
        })?;
        let value = value.strip_suffix('\n').map_or(value.as_str(), |value| {
            value.strip_suffix('\r').unwrap_or(value)
        });
        if value.is_empty() {
            return Err(format!("{file_variable} ({}) is empty", path.display()));
        }
        // SAFETY: called first thing in `main`, before the runtime or any other thread exists,
        // so nothing reads the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
    Ok(())
}
