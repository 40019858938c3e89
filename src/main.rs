//! The `pgdag` command line. Everything it does lives in the library; this file only
//! parses arguments and maps errors to exit codes (0 ok, 1 runtime error, 2 usage or
//! validation error).

use clap::Parser;

fn main() {
    // A task that runs as this process's own OS user could otherwise read its environment
    // (PGDAG_DATABASE_URL, PGDAG_SECRET_KEY...) and memory through /proc/<pid>/environ and
    // /proc/<pid>/mem: the /proc entries of a process that is not dumpable belong to root.
    // Its children are not affected (exec makes them dumpable again). Also no core dumps,
    // which would hold the same secrets.
    // SAFETY: prctl with PR_SET_DUMPABLE reads no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    let cli = pgdag::cli::Cli::parse();
    if !cli.command.runs_a_server() {
        // A command's output piped into `head` or `less` that is closed early: end quietly,
        // as `ls | head` does, instead of panicking at the next print ("failed printing to
        // stdout: Broken pipe"). Rust ignores SIGPIPE; its default ends the process. The
        // servers keep ignoring it: a task's or a client's closed pipe must not end them.
        // SAFETY: signal() with SIG_DFL installs no handler of ours.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    pgdag::logging::init();
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
