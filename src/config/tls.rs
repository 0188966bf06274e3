//! TLS *settings* as the configuration gives them (the REST API's certificate files, the HTTP
//! client's for calls to members); [`crate::tls`] turns them into rustls configurations.

use super::VerifyClient;

/// The REST API's TLS settings (`restapi.certfile` …).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// Server certificate chain (PEM).
    pub certfile: std::path::PathBuf,
    /// Its private key (PEM); the certificate file when absent, as in Patroni.
    pub keyfile: Option<std::path::PathBuf>,
    /// CA bundle client certificates must chain to.
    pub cafile: Option<std::path::PathBuf>,
    /// Whether clients must present a certificate.
    pub verify_client: VerifyClient,
}

/// The HTTP client settings for reaching members' REST APIs: Patroni's `ctl` section, falling back
/// to `restapi.cafile` / `certfile` / `keyfile` for the agent's own calls.
#[derive(Debug, Clone, Default)]
pub struct HttpClientTls {
    /// CA bundle to verify the members' certificates.
    pub cacert: Option<std::path::PathBuf>,
    /// Client certificate to present.
    pub certfile: Option<std::path::PathBuf>,
    /// Its key; the certificate file when absent.
    pub keyfile: Option<std::path::PathBuf>,
    /// Accept any server certificate (`ctl.insecure`).
    pub insecure: bool,
}
