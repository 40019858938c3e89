//! The `pgdag` command line. Everything it does lives in the library; this file only
//! parses arguments and maps errors to exit codes (0 ok, 1 runtime error, 2 usage or
//! validation error).

use clap::Parser;

fn main() {
    let cli = pgdag::cli::Cli::parse();
    let filter = std::env::var("PGDAG_LOG").unwrap_or_else(|_| "pgdag=info,warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(pgdag::cli::run(cli));
    std::process::exit(code);
}
