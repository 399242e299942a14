//! Private Postgres and RabbitMQ instances, started from the machine's own packages under the
//! suite's directory on free ports, so the faults stop and restart them without touching the
//! services anything else on the machine uses.
//!
//! Both servers refuse to run as root: as root, Postgres runs as `postgres` (through
//! `runuser`), and RabbitMQ's own start script switches to `rabbitmq`; the directories are
//! handed to those users.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context};

/// Runs a command to completion; fails with its output when it does not succeed.
fn run(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Hands `dir` to `user` when running as root, so a server that drops root can write there.
fn give_to(dir: &Path, user: &str) -> anyhow::Result<()> {
    if is_root() {
        run(Command::new("chown").arg("-R").arg(user).arg(dir))?;
    }
    Ok(())
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    pub port: u16,
}

impl Postgres {
    /// Makes a new cluster under `dir` and starts it.
    pub fn start_new(dir: &Path) -> anyhow::Result<Postgres> {
        let bin = postgres_bin()?;
        std::fs::create_dir_all(dir)?;
        give_to(dir, "postgres")?;
        let postgres = Postgres {
            bin,
            data: dir.join("data"),
            log: dir.join("postgres.log"),
            port: free_port()?,
        };
        postgres.pg(&[
            "initdb",
            "-D",
            &postgres.data.to_string_lossy(),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
        ])?;
        postgres.start()?;
        Ok(postgres)
    }

    /// A connection string to `database` on this instance.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.data.parent().unwrap_or(Path::new("/tmp")).display()
        );
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data.to_string_lossy(),
            "-l",
            &self.log.to_string_lossy(),
            "-o",
            &options,
            "-w",
            "start",
        ])
        .map(drop)
    }

    /// Stops the server as `systemctl stop` would: clients are disconnected, work is flushed.
    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg(&[
            "pg_ctl",
            "-D",
            &self.data.to_string_lossy(),
            "-m",
            "fast",
            "-w",
            "stop",
        ])
        .map(drop)
    }

    fn pg(&self, args: &[&str]) -> anyhow::Result<String> {
        let program = self.bin.join(args[0]);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(&args[1..]);
        run(&mut command)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.pg(&[
            "pg_ctl",
            "-D",
            &self.data.to_string_lossy(),
            "-m",
            "immediate",
            "stop",
        ]);
    }
}

/// The newest installed server's binaries (Debian keeps them out of PATH).
fn postgres_bin() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("PROCMAP_FAULTS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .context("looking for PostgreSQL's server binaries in /usr/lib/postgresql (set PROCMAP_FAULTS_PG_BIN)")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    let version = versions
        .last()
        .context("no PostgreSQL server under /usr/lib/postgresql")?;
    Ok(PathBuf::from(format!("/usr/lib/postgresql/{version}/bin")))
}

pub struct RabbitMq {
    dir: PathBuf,
    node: String,
    pub port: u16,
    dist_port: u16,
}

impl RabbitMq {
    /// Configures a node of its own under `dir` and starts it.
    pub fn start_new(dir: &Path) -> anyhow::Result<RabbitMq> {
        std::fs::create_dir_all(dir)?;
        let port = free_port()?;
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.default = 127.0.0.1:{port}\n"),
        )?;
        give_to(dir, "rabbitmq")?;
        let rabbitmq = RabbitMq {
            dir: dir.to_owned(),
            node: format!("procmap-faults-{}@localhost", std::process::id()),
            port,
            dist_port: free_port()?,
        };
        rabbitmq.start()?;
        Ok(rabbitmq)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// Starts the node and waits until it serves.
    pub fn start(&self) -> anyhow::Result<()> {
        let dir = &self.dir;
        run(Command::new("rabbitmq-server")
            .arg("-detached")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq"))
            .env("RABBITMQ_PID_FILE", dir.join("pid")))?;
        self.ctl(&[
            "wait",
            "--timeout",
            "60",
            &dir.join("pid").to_string_lossy(),
        ])?;
        Ok(())
    }

    /// Stops the whole node, as a restart or an upgrade does.
    pub fn shutdown(&self) -> anyhow::Result<()> {
        self.ctl(&["shutdown"]).map(drop)
    }

    /// Raises the memory alarm, which blocks every publishing connection until lifted: the
    /// broker takes no message and confirms none.
    pub fn block_publishers(&self) -> anyhow::Result<()> {
        self.ctl(&["set_vm_memory_high_watermark", "0"]).map(drop)
    }

    pub fn unblock_publishers(&self) -> anyhow::Result<()> {
        self.ctl(&["set_vm_memory_high_watermark", "0.4"]).map(drop)
    }

    fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new("rabbitmqctl")
            .arg("-q")
            .arg("-n")
            .arg(&self.node)
            .args(args))
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
