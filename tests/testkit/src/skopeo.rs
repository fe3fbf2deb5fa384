//! Running skopeo against a harness registry.

use std::process::{Command, Output};

use crate::registry::Registry;

/// Runs `skopeo --insecure-policy --command-timeout 120s ARGS...` and returns
/// its output (whatever the exit status). Panics only if skopeo cannot be run.
pub fn run_skopeo<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let mut cmd = Command::new("skopeo");
    cmd.args(["--insecure-policy", "--command-timeout", "120s"])
        .args(args)
        .env_remove("REGISTRY_AUTH_FILE");
    cmd.output().unwrap_or_else(|e| {
        panic!("rr-testkit: cannot run skopeo ({e}); install it with `apt-get install skopeo`")
    })
}

/// Like [`run_skopeo`] but panics with skopeo's stderr if it fails; returns stdout.
pub(crate) fn skopeo_ok(args: &[String]) -> Vec<u8> {
    let out = run_skopeo(args);
    if !out.status.success() {
        panic!(
            "rr-testkit: `skopeo {}` failed ({}):\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

impl Registry {
    /// skopeo flags for this registry: TLS (`--{prefix}tls-verify`,
    /// `--{prefix}cert-dir`) and, if given, `--{prefix}creds user:pw`.
    /// `prefix` is `""` (inspect, delete, list-tags), `"src-"` or `"dest-"` (copy).
    pub fn skopeo_flags(&self, prefix: &str, creds: Option<(&str, &str)>) -> Vec<String> {
        let mut v = Vec::new();
        match self.skopeo_cert_dir() {
            Some(dir) => {
                v.push(format!("--{prefix}tls-verify=true"));
                v.push(format!("--{prefix}cert-dir={}", dir.display()));
            }
            None => v.push(format!("--{prefix}tls-verify=false")),
        }
        if let Some((u, p)) = creds {
            v.push(format!("--{prefix}creds={u}:{p}"));
        }
        v
    }

    /// The flags `skopeo inspect|delete|list-tags` needs for this registry,
    /// with the mode's push-capable credentials (alice / pusher), if any.
    /// For `skopeo copy` use [`Registry::skopeo_flags`] with `"src-"`/`"dest-"`.
    pub fn skopeo_args(&self) -> Vec<String> {
        self.skopeo_flags("", self.credentials())
    }

    /// `docker://HOST/...` for `repo:tag`, `repo@digest`, `HOST/repo...` or a
    /// full `docker://` reference.
    pub fn docker_ref(&self, reference: &str) -> String {
        if reference.starts_with("docker://") {
            reference.to_string()
        } else if reference.starts_with(&format!("{}/", self.host())) {
            format!("docker://{reference}")
        } else {
            format!("docker://{}/{reference}", self.host())
        }
    }

    /// `skopeo inspect --raw` of `reference` (see [`Registry::docker_ref`]),
    /// with the mode's credentials and TLS flags. Panics if skopeo fails.
    pub fn skopeo_inspect_raw(&self, reference: &str) -> Vec<u8> {
        let mut args = vec!["inspect".to_string(), "--raw".to_string()];
        args.extend(self.skopeo_args());
        args.push(self.docker_ref(reference));
        skopeo_ok(&args)
    }

    /// `skopeo inspect --config --raw` of `reference`: the image's config bytes.
    pub fn skopeo_inspect_config(&self, reference: &str) -> Vec<u8> {
        let mut args = vec![
            "inspect".to_string(),
            "--config".to_string(),
            "--raw".to_string(),
        ];
        args.extend(self.skopeo_args());
        args.push(self.docker_ref(reference));
        skopeo_ok(&args)
    }

    /// `skopeo copy` from `src` (any skopeo transport reference) to `dest`
    /// (see [`Registry::docker_ref`]) with `creds`. Returns skopeo's output
    /// whatever the exit status.
    pub fn skopeo_copy_to(
        &self,
        src: &str,
        dest: &str,
        creds: Option<(&str, &str)>,
        all: bool,
    ) -> Output {
        let mut args = vec!["copy".to_string(), "--retry-times=0".to_string()];
        if all {
            args.push("--all".to_string());
        }
        args.extend(self.skopeo_flags("dest-", creds));
        args.push(src.to_string());
        args.push(self.docker_ref(dest));
        run_skopeo(&args)
    }
}
