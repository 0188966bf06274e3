//! `praetorctl`: control a praetor (or Patroni) cluster; the commands live in `praetor::ctl`.

fn main() -> std::process::ExitCode {
    praetor::ctl::main()
}
