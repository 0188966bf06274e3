//! TLS with rustls (no OpenSSL): PEM loading, the REST API's server configuration
//! (`restapi.certfile`, `keyfile`, `cafile`, `verify_client`, as Patroni reads them), the client
//! configuration for PostgreSQL connections (libpq's `sslmode` semantics, PostgreSQL docs
//! §34.19 "SSL Support"), and the HTTP client members and praetorctl use to reach REST APIs.
//!
//! Every error names the configuration key whose file could not be used.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

pub use crate::config::tls::{HttpClientTls, ServerTls};
use crate::config::{Credentials, VerifyClient};

/// The crypto provider praetor uses everywhere (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in the PEM file at `path`; `key` names the setting in errors.
///
/// # Errors
/// The file cannot be read or holds no PEM certificate.
pub fn load_certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("{key}: cannot read {}", path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{key}: {} is not valid PEM", path.display()))?;
    if certs.is_empty() {
        bail!(
            "{key}: {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(certs)
}

/// Reads the private key in the PEM file at `path` (PKCS#8, PKCS#1 or SEC1, unencrypted).
///
/// # Errors
/// The file cannot be read or holds no unencrypted private key.
pub fn load_key(path: &Path, key: &str) -> Result<PrivateKeyDer<'static>> {
    load_key_with(path, key, None)
}

/// [`load_key`], also reading a key encrypted as PKCS#8 (`-----BEGIN ENCRYPTED PRIVATE
/// KEY-----`, PBES2 as `openssl pkcs8 -topk8` writes it) with `password` (libpq's
/// `sslpassword`).
///
/// # Errors
/// The file cannot be read; it holds no private key; the key is encrypted and no password or
/// a wrong one was given, or it is encrypted in OpenSSL's older format (`Proc-Type: 4,ENCRYPTED`).
pub fn load_key_with(
    path: &Path,
    key: &str,
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>> {
    let text =
        std::fs::read(path).with_context(|| format!("{key}: cannot read {}", path.display()))?;
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    if has(b"ENCRYPTED PRIVATE KEY") {
        let Some(password) = password else {
            bail!(
                "{key}: {} is an encrypted key: give its passphrase in sslpassword",
                path.display()
            );
        };
        let pem = std::str::from_utf8(&text)
            .map_err(|_| anyhow!("{key}: {} is not PEM text", path.display()))?;
        let (_, doc) = pkcs8::SecretDocument::from_pem(pem)
            .map_err(|e| anyhow!("{key}: {} is not a PEM encrypted key: {e}", path.display()))?;
        let info: pkcs8::EncryptedPrivateKeyInfo<'_> = doc.decode_msg().map_err(|e| {
            anyhow!(
                "{key}: {} is not an encrypted PKCS#8 key: {e}",
                path.display()
            )
        })?;
        let plain = info.decrypt(password.as_bytes()).map_err(|e| {
            anyhow!(
                "{key}: cannot decrypt {} with sslpassword (wrong passphrase?): {e}",
                path.display()
            )
        })?;
        return Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()));
    }
    if has(b"Proc-Type: 4,ENCRYPTED") {
        bail!(
            "{key}: {} is encrypted in OpenSSL's legacy PEM format; convert it with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
            path.display()
        );
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| {
        anyhow!(
            "{key}: {} holds no PEM private key ({e}); expected PKCS#8, PKCS#1 or SEC1",
            path.display()
        )
    })
}

/// The certificate revocation lists of `creds.sslcrl` (a file of PEM or DER lists) and
/// `creds.sslcrldir` (every file of the directory), as libpq reads them when it verifies the
/// server's certificate (`sslmode` `verify-ca` or `verify-full`, PostgreSQL docs §34.19.1): a
/// certificate of the chain that a list revokes, or whose issuer has no list, is refused.
///
/// # Errors
/// A file cannot be read or holds no revocation list (naming `{key}.sslcrl` or `.sslcrldir`).
pub fn load_crls(
    creds: &Credentials,
    key: &str,
) -> Result<Vec<rustls::pki_types::CertificateRevocationListDer<'static>>> {
    use rustls::pki_types::CertificateRevocationListDer as Crl;
    let read = |path: &Path, setting: &str| -> Result<Vec<Crl<'static>>> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{key}.{setting}: cannot read {}", path.display()))?;
        let pem: Vec<Crl<'static>> = Crl::pem_slice_iter(&bytes)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{key}.{setting}: {} is not valid PEM", path.display()))?;
        if !pem.is_empty() {
            return Ok(pem);
        }
        if bytes.first() == Some(&0x30) {
            // One DER-encoded list (an ASN.1 SEQUENCE).
            return Ok(vec![Crl::from(bytes)]);
        }
        bail!(
            "{key}.{setting}: {} holds no certificate revocation list (expected PEM -----BEGIN X509 CRL----- or DER)",
            path.display()
        )
    };
    let mut out = Vec::new();
    if let Some(f) = &creds.sslcrl {
        out.extend(read(Path::new(f), "sslcrl")?);
    }
    if let Some(d) = &creds.sslcrldir {
        let entries = std::fs::read_dir(d)
            .with_context(|| format!("{key}.sslcrldir: cannot read directory {d}"))?;
        let mut files: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        // libpq looks lists up by file name in the directory and never reads other files:
        // a file that holds no list is skipped.
        for f in files {
            if let Ok(crls) = read(&f, "sslcrldir") {
                out.extend(crls);
            }
        }
    }
    Ok(out)
}

fn roots(path: &Path, key: &str) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    for c in load_certs(path, key)? {
        store.add(c).with_context(|| {
            format!("{key}: {} holds an unusable CA certificate", path.display())
        })?;
    }
    Ok(store)
}

/// Builds the REST API's rustls server configuration.
///
/// `verify_client: optional` accepts connections without a certificate (the access check then
/// refuses unsafe requests from them, Patroni's behaviour); `required` refuses them during the
/// handshake. A certificate that is presented must chain to `cafile` in both cases.
///
/// # Errors
/// Unreadable files (named by their key), or `verify_client` set without `cafile`.
pub fn server_config(t: &ServerTls) -> Result<Arc<ServerConfig>> {
    let certs = load_certs(&t.certfile, "restapi.certfile")?;
    let key = match &t.keyfile {
        Some(k) => load_key(k, "restapi.keyfile")?,
        None => load_key(&t.certfile, "restapi.certfile")?,
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("restapi: TLS protocol versions")?;
    let builder = match t.verify_client {
        VerifyClient::None => builder.with_no_client_auth(),
        VerifyClient::Optional | VerifyClient::Required => {
            let ca = t.cafile.as_ref().ok_or_else(|| {
                anyhow!(
                    "restapi.cafile: required when restapi.verify_client is optional or required"
                )
            })?;
            let store = Arc::new(roots(ca, "restapi.cafile")?);
            let v = WebPkiClientVerifier::builder_with_provider(store, provider());
            let v = if t.verify_client == VerifyClient::Optional {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().context("restapi.cafile: client verifier")?)
        }
    };
    let mut cfg = builder
        .with_single_cert(certs, key)
        .context("restapi.certfile/keyfile: the key does not match the certificate")?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Builds a reqwest client with `timeout` honouring `t`.
///
/// Server certificates are verified against `cacert`, or against the built-in web roots when no
/// CA is given, unless `insecure` is set.
///
/// # Errors
/// Unreadable certificate or key files.
pub fn http_client(t: &HttpClientTls, timeout: std::time::Duration) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder().timeout(timeout).use_rustls_tls();
    match &t.cacert {
        _ if t.insecure => b = b.danger_accept_invalid_certs(true),
        None => {}
        Some(ca) => {
            b = b.tls_built_in_root_certs(false);
            for c in load_certs(ca, "ctl.cacert")? {
                b = b.add_root_certificate(
                    reqwest::Certificate::from_der(&c)
                        .context("ctl.cacert: unusable certificate")?,
                );
            }
        }
    }
    if let Some(cert) = &t.certfile {
        let mut pem = std::fs::read(cert)
            .with_context(|| format!("ctl.certfile: cannot read {}", cert.display()))?;
        if let Some(k) = &t.keyfile {
            load_key(k, "ctl.keyfile")?;
            pem.push(b'\n');
            pem.extend(
                std::fs::read(k)
                    .with_context(|| format!("ctl.keyfile: cannot read {}", k.display()))?,
            );
        }
        b = b.identity(
            reqwest::Identity::from_pem(&pem)
                .context("ctl.certfile/keyfile: expected a PEM certificate and private key")?,
        );
    }
    b.build().context("building the HTTP client")
}

/// libpq's server-certificate checks below `verify-full`: `sslmode=require` accepts any
/// certificate (`chain: None`); `verify-ca` checks the chain against the CA but not the host name.
/// Handshake signatures are always checked.
#[derive(Debug)]
struct LibpqVerifier {
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl LibpqVerifier {
    /// The provider's algorithms, against which handshake signatures are checked.
    fn algs(&self) -> &WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        inter: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end, inter, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, self.algs())
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, self.algs())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs().supported_schemes()
    }
}

/// How praetor's own PostgreSQL connections use TLS, from libpq's `sslmode`.
pub enum PgTls {
    /// `disable`, `allow`, `prefer` or unset: plain connections (tokio-postgres tries TLS first
    /// only with a connector; praetor's local connections do not need it).
    Plain,
    /// `require`, `verify-ca` or `verify-full`: TLS with this connector.
    Tls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// The TLS connector for connections made with `creds` (`sslmode`, `sslrootcert`, `sslcert`,
/// `sslkey`), following libpq: `require` encrypts without verifying, `verify-ca` checks the chain,
/// `verify-full` also the host name.
///
/// # Errors
/// An unknown `sslmode`, `verify-*` without `sslrootcert`, or unreadable files; `key` names the
/// credentials section (e.g. `postgresql.authentication.superuser`).
pub fn pg_tls(creds: &Credentials, key: &str) -> Result<PgTls> {
    let mode = creds.sslmode.as_deref().unwrap_or("prefer");
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match mode {
        "disable" | "allow" | "prefer" => return Ok(PgTls::Plain),
        "require" => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LibpqVerifier {
                chain: None,
                provider: provider(),
            })),
        "verify-ca" | "verify-full" => {
            let ca = creds.sslrootcert.as_ref().ok_or_else(|| {
                anyhow!("{key}.sslrootcert: required with sslmode {mode}")
            })?;
            let store = Arc::new(roots(Path::new(ca), &format!("{key}.sslrootcert"))?);
            let crls = load_crls(creds, key)?;
            let checks_crls = !crls.is_empty();
            let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
                store.clone(),
                provider(),
            )
            .with_crls(crls)
            // OpenSSL (libpq) refuses a list past its nextUpdate; so does praetor.
            .enforce_revocation_expiration()
                .build()
                .with_context(|| format!("{key}.sslrootcert/sslcrl: verifier"))?;
            if mode == "verify-full" {
                if checks_crls {
                    builder.with_webpki_verifier(v)
                } else {
                    builder.with_root_certificates(store)
                }
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(LibpqVerifier {
                        chain: Some(v),
                        provider: provider(),
                    }))
            }
        }
        other => bail!(
            "{key}.sslmode: expected disable, allow, prefer, require, verify-ca or verify-full, got {other:?}"
        ),
    };
    let cfg = match (&creds.sslcert, &creds.sslkey) {
        (Some(c), Some(k)) => builder
            .with_client_auth_cert(
                load_certs(Path::new(c), &format!("{key}.sslcert"))?,
                load_key_with(
                    Path::new(k),
                    &format!("{key}.sslkey"),
                    creds.sslpassword.as_deref(),
                )?,
            )
            .with_context(|| format!("{key}.sslcert/sslkey: the key does not match"))?,
        _ => builder.with_no_client_auth(),
    };
    Ok(PgTls::Tls(tokio_postgres_rustls::MakeRustlsConnect::new(
        cfg,
    )))
}

/// Connects with `cfg`, using TLS as `creds.sslmode` asks (see [`pg_tls`]), and drives the
/// connection on a background task.
///
/// # Errors
/// TLS set-up errors (naming `key`), or the connection or authentication failed.
pub async fn pg_connect(
    cfg: &mut tokio_postgres::Config,
    creds: &Credentials,
    key: &str,
) -> Result<tokio_postgres::Client> {
    match pg_tls(creds, key)? {
        PgTls::Plain => {
            let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(client)
        }
        PgTls::Tls(tls) => {
            cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
            let (client, conn) = cfg.connect(tls).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(client)
        }
    }
}
