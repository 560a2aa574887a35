//! Test certificates made with the `openssl` command: a CA, a server certificate for `127.0.0.1`/`localhost`
//! and a client certificate, all signed by that CA (P-256 keys, PEM, valid for two days), for tests of TLS
//! between Vamp and the servers of [`crate::testkit::servers`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The files of one CA and the certificates it signed.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server certificate (SAN `IP:127.0.0.1`, `DNS:localhost`).
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// The client certificate (CN `vamp-client`).
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("openssl cannot be run (install the openssl package): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn key(dir: &Path, name: &str) -> Result<(), String> {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            name,
        ],
    )
}

fn signed(dir: &Path, name: &str, cn: &str, extensions: &str) -> Result<(), String> {
    let key_file = format!("{name}-key.pem");
    let csr = format!("{name}.csr");
    let ext = format!("{name}.ext");
    key(dir, &key_file)?;
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key_file,
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &csr,
        ],
    )?;
    std::fs::write(dir.join(&ext), extensions).map_err(|e| e.to_string())?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &format!("{name}.pem"),
        ],
    )
}

impl TestCerts {
    /// Makes a new CA and its server and client certificates in `dir` (created if missing).
    pub fn create(dir: &Path) -> Result<TestCerts, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        key(dir, "ca-key.pem")?;
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca-key.pem",
                "-subj",
                "/CN=vamp-test-ca",
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                "ca.pem",
            ],
        )?;
        signed(
            dir,
            "server",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n\
             basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n",
        )?;
        signed(
            dir,
            "client",
            "vamp-client",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n",
        )?;
        Ok(TestCerts {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        })
    }
}
