//! A real `docker-registry` (distribution 2.8) per test: temp storage, free loopback port, killed on
//! Drop; plus helpers that push small random images through the client's write API.
//! Reusable by end-to-end tests: `TestRegistry::start()`, `.url()`, `.settings()`, `.push_image(..)`.

mod issuer;

pub use issuer::{Grant, TokenIssuer};

use bytes::Bytes;
use registry_gc::registry::{manifest, Digest, Format, RegistryClient, RegistrySettings};
use registry_gc::secret::Secret;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";

/// `auth.token` settings for the registry.
#[derive(Clone, Debug)]
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    pub rootcertbundle: PathBuf,
}

/// How to configure the registry.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// `storage.delete.enabled`.
    pub delete_enabled: bool,
    /// htpasswd basic auth with this (user, password), stored bcrypt-hashed.
    pub htpasswd: Option<(String, String)>,
    /// Token auth against an issuer the test runs.
    pub token: Option<TokenAuth>,
    /// Credentials [`TestRegistry::settings`] uses for token auth (htpasswd's are used otherwise).
    pub login: Option<(String, String)>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            delete_enabled: true,
            htpasswd: None,
            token: None,
            login: None,
        }
    }
}

/// A running registry process; killed when dropped.
pub struct TestRegistry {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    options: RegistryOptions,
}

impl TestRegistry {
    /// Anonymous registry with deletes enabled.
    pub async fn start() -> TestRegistry {
        TestRegistry::start_with(RegistryOptions::default()).await
    }

    /// Registry configured by `options`. Panics (never skips) when the binary is missing.
    pub async fn start_with(options: RegistryOptions) -> TestRegistry {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: install Debian's docker-registry package (apt-get install docker-registry)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        if let Some((user, pass)) = &options.htpasswd {
            write_htpasswd(&dir.path().join("htpasswd"), user, pass);
        }
        let mut reg = TestRegistry {
            dir,
            port: 0,
            child: None,
            options,
        };
        // A port found free can be taken before the registry binds it: retry a few times.
        for _ in 0..5 {
            reg.port = free_port();
            reg.write_config();
            if reg.launch().await {
                return reg;
            }
        }
        panic!("docker-registry did not come up; log:\n{}", reg.log());
    }

    fn write_config(&self) {
        let root = self.dir.path();
        let mut yml = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {}\nhttp:\n  addr: 127.0.0.1:{}\n  secret: registry-gc-test-secret\n",
            root.join("data").display(),
            self.options.delete_enabled,
            self.port
        );
        if self.options.htpasswd.is_some() {
            yml += &format!(
                "auth:\n  htpasswd:\n    realm: registry-gc-test\n    path: {}\n",
                root.join("htpasswd").display()
            );
        } else if let Some(t) = &self.options.token {
            yml += &format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.realm, t.service, t.issuer, t.rootcertbundle.display()
            );
        }
        std::fs::write(self.config_path(), yml).expect("write registry config");
    }

    /// Path of the registry's config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Starts the process and waits (at most 10 s) for `/v2/` to answer; false if it died.
    async fn launch(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("registry.log")).expect("log file");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        self.child = Some(child);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                eprintln!(
                    "docker-registry exited early ({status}) on port {}",
                    self.port
                );
                self.child = None;
                return false;
            }
            if http.get(format!("{}/v2/", self.url())).send().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.stop();
        false
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Client settings; with the login or htpasswd credentials when auth is on.
    pub fn settings(&self) -> RegistrySettings {
        let s = RegistrySettings::new(self.url().parse().expect("url"));
        match self
            .options
            .login
            .as_ref()
            .or(self.options.htpasswd.as_ref())
        {
            Some((u, p)) => s.with_credentials(u.clone(), Secret::new(p.clone())),
            None => s,
        }
    }

    /// [`Self::settings`] for a front at `url` (a proxy before this registry).
    pub fn settings_at(&self, url: &str) -> RegistrySettings {
        let mut settings = self.settings();
        settings.url = url.parse().expect("url");
        settings
    }

    /// Settings with the given credentials (for token auth).
    pub fn settings_as(&self, user: &str, password: &str) -> RegistrySettings {
        RegistrySettings::new(self.url().parse().expect("url"))
            .with_credentials(user, Secret::new(password))
    }

    /// A client built from [`Self::settings`].
    pub fn client(&self) -> RegistryClient {
        RegistryClient::new(self.settings()).expect("client")
    }

    /// Kills the registry process (idempotent).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped registry again on the same port and storage.
    pub async fn restart(&mut self) {
        self.stop();
        assert!(
            self.launch().await,
            "registry did not restart; log:\n{}",
            self.log()
        );
    }

    /// Stops the registry and runs the offline `garbage-collect` on its storage; returns its output.
    pub fn garbage_collect(&mut self, delete_untagged: bool) -> String {
        self.stop();
        let mut cmd = Command::new(BINARY);
        cmd.arg("garbage-collect");
        if delete_untagged {
            cmd.arg("--delete-untagged");
        }
        let out = cmd
            .arg(self.config_path())
            .output()
            .expect("run garbage-collect");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "garbage-collect failed: {text}");
        text
    }

    /// Bytes of all blob files in the storage.
    pub fn bytes_on_disk(&self) -> u64 {
        dir_size(&self.dir.path().join("data/docker/registry/v2/blobs"))
    }

    /// Pushes `image` as `repo:tag` (blobs skipped when present); returns the manifest digest.
    pub async fn push_image(&self, repo: &str, tag: &str, image: &TestImage) -> Digest {
        let client = self.client();
        let (digest, _) = client
            .push_image(
                repo,
                Some(tag),
                image.format,
                image.config.clone(),
                &image.layers,
            )
            .await
            .expect("push image");
        digest
    }

    /// Pushes every child by digest, then an index / manifest list over them as `repo:tag`.
    /// Returns (index digest, child digests).
    pub async fn push_index(
        &self,
        repo: &str,
        tag: &str,
        format: Format,
        children: &[TestImage],
    ) -> (Digest, Vec<Digest>) {
        let client = self.client();
        let mut entries = Vec::new();
        for child in children {
            let (d, size) = client
                .push_image(
                    repo,
                    None,
                    child.format,
                    child.config.clone(),
                    &child.layers,
                )
                .await
                .expect("push child");
            entries.push((d, size));
        }
        let arches = ["amd64", "arm64", "s390x", "ppc64le"];
        let list: Vec<_> = entries
            .iter()
            .zip(arches)
            .map(|((d, s), a)| (d.clone(), *s, a))
            .collect();
        let (media, body) = manifest::build_index(format, &list);
        let digest = client
            .put_manifest(repo, tag, media, Bytes::from(body))
            .await
            .expect("push index");
        (digest, entries.into_iter().map(|(d, _)| d).collect())
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A small image made of random blobs.
#[derive(Clone, Debug)]
pub struct TestImage {
    pub format: Format,
    pub config: Bytes,
    pub layers: Vec<Bytes>,
}

impl TestImage {
    /// An image with its own random config and `layers` random layers of `size` bytes.
    pub fn random(format: Format, layers: usize, size: usize) -> TestImage {
        TestImage::on_base(format, &[], layers, size)
    }

    /// An image sharing the `base` layers, plus `extra` random layers of `size` bytes.
    pub fn on_base(format: Format, base: &[Bytes], extra: usize, size: usize) -> TestImage {
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": "2024-05-01T12:00:00Z",
            "config": { "Labels": { "nonce": uuid::Uuid::new_v4().to_string() } },
        });
        let mut layers = base.to_vec();
        layers.extend((0..extra).map(|_| random_blob(size)));
        TestImage {
            format,
            config: Bytes::from(serde_json::to_vec(&config).unwrap()),
            layers,
        }
    }

    /// Bytes of config + layers.
    pub fn size(&self) -> u64 {
        (self.config.len() + self.layers.iter().map(Bytes::len).sum::<usize>()) as u64
    }
}

/// `len` random bytes.
pub fn random_blob(len: usize) -> Bytes {
    let mut v = vec![0u8; len];
    rand::fill(&mut v[..]);
    Bytes::from(v)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("addr").port()
}

fn write_htpasswd(path: &Path, user: &str, pass: &str) {
    let out = Command::new("htpasswd")
        .args(["-nbB", user, pass])
        .output()
        .expect("htpasswd (apache2-utils) must be installed");
    assert!(out.status.success(), "htpasswd failed");
    std::fs::write(path, out.stdout).expect("write htpasswd");
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
