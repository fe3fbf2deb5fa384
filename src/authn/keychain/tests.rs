//! Tests of the default keychain. Each test builds its own environment in a temporary
//! directory; nothing reads or changes the process environment.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;

use super::*;
use crate::error::ErrorKind;

struct Fixture {
    dir: tempfile::TempDir,
    env: KeychainEnv,
}

impl Fixture {
    /// HOME and a helper bin directory (the only PATH entry) inside a fresh temp dir.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let bin = dir.path().join("bin");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&bin).unwrap();
        let env = KeychainEnv {
            home: Some(home),
            path: Some(bin.into_os_string()),
            ..KeychainEnv::default()
        };
        Fixture { dir, env }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn home(&self) -> PathBuf {
        self.env.home.clone().unwrap()
    }

    fn bin(&self) -> PathBuf {
        self.root().join("bin")
    }

    /// Writes `content` at `path`, creating the parents.
    fn write(&self, path: &Path, content: &str) -> PathBuf {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        path.to_path_buf()
    }

    /// `~/.docker/config.json`.
    fn docker_config(&self, content: &str) -> PathBuf {
        self.write(&self.home().join(".docker/config.json"), content)
    }

    /// A helper `docker-credential-<name>` in the bin dir. The preamble checks the argument
    /// is `get`, reads the key into `$key`, fails unless it came without a newline, and
    /// logs it (one per line) to `<bin>/<name>.log`; `body` then answers.
    fn helper(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let script = format!(
            "#!/bin/sh\n\
             [ \"$1\" = get ] || {{ echo \"bad arguments: $*\" >&2; exit 3; }}\n\
             key=$(cat; printf x)\n\
             key=${{key%x}}\n\
             nl='\n'\n\
             case \"$key\" in *\"$nl\"*) echo 'newline on stdin' >&2; exit 4;; esac\n\
             printf '%s\\n' \"$key\" >> \"$(dirname \"$0\")/{name}.log\"\n\
             {body}\n"
        );
        let path = self.bin().join(format!("docker-credential-{name}"));
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A helper answering `username`/`secret` for `key` only, "not found" otherwise.
    fn helper_for(&self, name: &str, key: &str, username: &str, secret: &str) {
        self.helper(
            name,
            &format!(
                "if [ \"$key\" = '{key}' ]; then\n\
                 printf '{{\"ServerURL\":\"%s\",\"Username\":\"{username}\",\"Secret\":\"{secret}\"}}' \"$key\"\n\
                 else echo 'credentials not found in native keychain'; exit 1; fi"
            ),
        );
    }

    /// The keys helper `name` was asked for, in order.
    fn asked(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.bin().join(format!("{name}.log")))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn resolve(&self, registry: &str, repository: Option<&str>) -> Result<Credential> {
        resolve_in(&self.env, registry, repository)
    }
}

fn basic(u: &str, p: &str) -> Credential {
    Credential::Basic {
        username: u.to_string(),
        password: p.to_string(),
    }
}

fn auths(entries: &[(&str, &str)]) -> String {
    let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
    format!("{{\"auths\": {{{}}}}}", body.join(", "))
}

fn auth_entry(user_pass: &str) -> String {
    format!("{{\"auth\": {:?}}}", STANDARD.encode(user_pass))
}

// ---- files absent, empty, malformed ----------------------------------------------------

#[test]
fn no_config_at_all_is_anonymous() {
    let f = Fixture::new();
    assert_eq!(
        f.resolve("test.io", Some("a/b")).unwrap(),
        Credential::Anonymous
    );
    // No HOME either.
    let env = KeychainEnv::default();
    assert_eq!(
        resolve_in(&env, "test.io", None).unwrap(),
        Credential::Anonymous
    );
}

#[test]
fn empty_config_file_is_an_empty_configuration() {
    let f = Fixture::new();
    f.docker_config("  \n");
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
}

#[test]
fn config_without_entry_for_registry_is_anonymous() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("other.io", &auth_entry("u:p"))]));
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
}

#[test]
fn malformed_json_config_is_an_io_error_naming_the_file() {
    let f = Fixture::new();
    let path = f.docker_config("{\"auths\": {\"test.io\": {\"password\": \"hunter2\"");
    let err = f.resolve("test.io", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains(&path.display().to_string()), "{err}");
    assert!(!err.message.contains("hunter2"), "{err}");
}

#[test]
fn malformed_json_stops_the_lookup_even_if_a_later_file_has_credentials() {
    let f = Fixture::new();
    f.docker_config("not json");
    f.write(
        &f.home().join(".config/containers/auth.json"),
        &auths(&[("test.io", &auth_entry("u:p"))]),
    );
    assert_eq!(f.resolve("test.io", None).unwrap_err().kind, ErrorKind::Io);
}

#[test]
fn auths_of_the_wrong_type_is_an_error() {
    let f = Fixture::new();
    f.docker_config("{\"auths\": [\"test.io\"]}");
    assert_eq!(f.resolve("test.io", None).unwrap_err().kind, ErrorKind::Io);
}

#[test]
fn malformed_auth_base64_is_an_error_naming_file_and_key_without_the_secret() {
    let f = Fixture::new();
    let path = f.docker_config(&auths(&[("test.io", "{\"auth\": \"s3cr3t-v@lue!\"}")]));
    let err = f.resolve("test.io", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains(&path.display().to_string()), "{err}");
    assert!(err.message.contains("\"test.io\""), "{err}");
    assert!(!err.message.contains("s3cr3t"), "{err}");
    assert!(!err.message.contains('@'), "{err}");
}

#[test]
fn auth_without_colon_is_an_error_without_the_secret() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("test.io", &auth_entry("justasecret"))]));
    let err = f.resolve("test.io", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(!err.message.contains("justasecret"), "{err}");
    assert!(
        !err.message.contains(&STANDARD.encode("justasecret")),
        "{err}"
    );
}

#[test]
fn malformed_entry_for_another_registry_is_not_consulted() {
    let f = Fixture::new();
    f.docker_config(&auths(&[
        ("other.io", "{\"auth\": \"!!!\"}"),
        ("test.io", &auth_entry("u:p")),
    ]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("u", "p"));
}

#[test]
fn empty_registry_is_invalid_argument() {
    let f = Fixture::new();
    assert_eq!(
        f.resolve("", None).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
}

// ---- entries -----------------------------------------------------------------------------

#[test]
fn auth_base64_padded() {
    let f = Fixture::new();
    // "user:pa" encodes with padding.
    let encoded = STANDARD.encode("user:pa");
    assert!(encoded.ends_with('='));
    f.docker_config(&auths(&[(
        "test.io",
        &format!("{{\"auth\": {encoded:?}}}"),
    )]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("user", "pa"));
}

#[test]
fn auth_base64_unpadded() {
    let f = Fixture::new();
    let encoded = STANDARD_NO_PAD.encode("user:pa");
    assert!(!encoded.ends_with('='));
    f.docker_config(&auths(&[(
        "test.io",
        &format!("{{\"auth\": {encoded:?}}}"),
    )]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("user", "pa"));
}

#[test]
fn auth_splits_at_the_first_colon() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("test.io", &auth_entry("user:pa:ss:word"))]));
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        basic("user", "pa:ss:word")
    );
}

#[test]
fn username_and_password_fields() {
    let f = Fixture::new();
    f.docker_config(&auths(&[(
        "test.io",
        "{\"username\": \"alice\", \"password\": \"wonderland\"}",
    )]));
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        basic("alice", "wonderland")
    );
}

#[test]
fn field_names_match_case_insensitively() {
    let f = Fixture::new();
    f.docker_config("{\"Auths\": {\"test.io\": {\"Username\": \"alice\", \"Password\": \"pw\"}}}");
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("alice", "pw"));
}

#[test]
fn token_username_in_auth_gives_identity_token() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("test.io", &auth_entry("<token>:refresh-me"))]));
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        Credential::IdentityToken("refresh-me".into())
    );
}

#[test]
fn token_username_field_gives_identity_token() {
    let f = Fixture::new();
    f.docker_config(&auths(&[(
        "test.io",
        "{\"username\": \"<token>\", \"password\": \"refresh-me\"}",
    )]));
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        Credential::IdentityToken("refresh-me".into())
    );
}

#[test]
fn identitytoken_field_wins_over_basic() {
    let f = Fixture::new();
    f.docker_config(&auths(&[(
        "test.io",
        &format!(
            "{{\"auth\": {:?}, \"identitytoken\": \"idt\"}}",
            STANDARD.encode("u:p")
        ),
    )]));
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        Credential::IdentityToken("idt".into())
    );
}

#[test]
fn registrytoken_field() {
    let f = Fixture::new();
    f.docker_config(&auths(&[(
        "test.io",
        "{\"registrytoken\": \"bearer-as-is\"}",
    )]));
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        Credential::RegistryToken("bearer-as-is".into())
    );
}

#[test]
fn username_without_password_is_not_a_credential() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("test.io", "{\"username\": \"alice\"}")]));
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
    f.docker_config(&auths(&[("test.io", "{}")]));
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
}

// ---- keys ----------------------------------------------------------------------------------

#[test]
fn host_form_of_keys() {
    assert_eq!(host_form("https://test.io/v1/"), "test.io");
    assert_eq!(host_form("http://test.io/v2/"), "test.io");
    assert_eq!(host_form("https://test.io:5000"), "test.io:5000");
    assert_eq!(host_form("https://user@test.io:5000/x"), "test.io:5000");
    assert_eq!(host_form("test.io/anything/else"), "test.io");
    assert_eq!(host_form("test.io"), "test.io");
    assert_eq!(host_form("localhost:5000/repo"), "localhost:5000");
}

#[test]
fn host_form_match_of_https_v1_key() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("https://test.io/v1/", &auth_entry("u:p"))]));
    assert_eq!(
        f.resolve("test.io", Some("proj/img")).unwrap(),
        basic("u", "p")
    );
}

#[test]
fn host_form_match_of_http_v2_key_and_path_key_with_port() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("http://test.io:5000/v2/", &auth_entry("u:p"))]));
    assert_eq!(f.resolve("test.io:5000", None).unwrap(), basic("u", "p"));
    // A different port is another registry.
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);

    f.docker_config(&auths(&[("test.io/anything", &auth_entry("x:y"))]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("x", "y"));
}

#[test]
fn registry_wide_entries_win_over_path_entries_in_host_form_matching() {
    let f = Fixture::new();
    f.docker_config(&auths(&[
        ("test.io/aaa", &auth_entry("path:entry")),
        ("https://test.io/v1/", &auth_entry("wide:entry")),
    ]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("wide", "entry"));
}

#[test]
fn exact_key_wins_over_host_form_match() {
    let f = Fixture::new();
    f.docker_config(&auths(&[
        ("https://test.io/v1/", &auth_entry("url:form")),
        ("test.io", &auth_entry("exact:key")),
    ]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("exact", "key"));
}

#[test]
fn repository_key_before_registry_key() {
    let f = Fixture::new();
    f.docker_config(&auths(&[
        ("test.io", &auth_entry("registry:wide")),
        ("test.io/team/app", &auth_entry("repo:only")),
    ]));
    assert_eq!(
        f.resolve("test.io", Some("team/app")).unwrap(),
        basic("repo", "only")
    );
    assert_eq!(
        f.resolve("test.io", Some("team/other")).unwrap(),
        basic("registry", "wide")
    );
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        basic("registry", "wide")
    );
}

#[test]
fn docker_hub_uses_the_v1_url_key() {
    let f = Fixture::new();
    f.docker_config(&auths(&[
        ("https://index.docker.io/v1/", &auth_entry("hub:user")),
        ("index.docker.io", &auth_entry("alias:loses")),
    ]));
    assert_eq!(
        f.resolve("index.docker.io", Some("library/ubuntu"))
            .unwrap(),
        basic("hub", "user")
    );
}

#[test]
fn docker_hub_repository_key_is_not_aliased() {
    let f = Fixture::new();
    f.docker_config(&auths(&[
        ("https://index.docker.io/v1/", &auth_entry("hub:user")),
        ("index.docker.io/library/ubuntu", &auth_entry("repo:user")),
        ("docker.io/library/alpine", &auth_entry("podman:style")),
    ]));
    assert_eq!(
        f.resolve("index.docker.io", Some("library/ubuntu"))
            .unwrap(),
        basic("repo", "user")
    );
    // `docker.io/library/alpine` is not the repository key of Docker Hub.
    assert_eq!(
        f.resolve("index.docker.io", Some("library/alpine"))
            .unwrap(),
        basic("hub", "user")
    );
}

#[test]
fn docker_hub_accepts_docker_io_and_index_docker_io_keys() {
    let f = Fixture::new();
    f.docker_config(&auths(&[("docker.io", &auth_entry("podman:hub"))]));
    assert_eq!(
        f.resolve("index.docker.io", Some("library/ubuntu"))
            .unwrap(),
        basic("podman", "hub")
    );
    f.docker_config(&auths(&[("index.docker.io", &auth_entry("bare:hub"))]));
    assert_eq!(
        f.resolve("index.docker.io", None).unwrap(),
        basic("bare", "hub")
    );
}

// ---- files and their order ---------------------------------------------------------------

#[test]
fn docker_config_env_wins_over_home() {
    let mut f = Fixture::new();
    f.docker_config(&auths(&[("test.io", &auth_entry("home:docker"))]));
    let dc = f.root().join("dockercfg");
    f.write(
        &dc.join("config.json"),
        &auths(&[("test.io", &auth_entry("env:docker"))]),
    );
    f.env.docker_config = Some(dc);
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("env", "docker"));
}

#[test]
fn docker_config_env_without_file_does_not_read_home_docker() {
    let mut f = Fixture::new();
    f.docker_config(&auths(&[("test.io", &auth_entry("home:docker"))]));
    f.env.docker_config = Some(f.root().join("empty-dir"));
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
}

#[test]
fn docker_config_before_registry_auth_file() {
    let mut f = Fixture::new();
    f.docker_config(&auths(&[("test.io", &auth_entry("docker:cfg"))]));
    let raf = f.write(
        &f.root().join("raf.json"),
        &auths(&[("test.io", &auth_entry("registry:auth"))]),
    );
    f.env.registry_auth_file = Some(raf);
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("docker", "cfg"));
}

#[test]
fn registry_auth_file_replaces_xdg_runtime_dir() {
    let mut f = Fixture::new();
    let run = f.root().join("run");
    f.write(
        &run.join("containers/auth.json"),
        &auths(&[
            ("test.io", &auth_entry("runtime:dir")),
            ("run.io", &auth_entry("r:r")),
        ]),
    );
    let raf = f.write(
        &f.root().join("raf.json"),
        &auths(&[("test.io", &auth_entry("registry:auth"))]),
    );
    f.env.xdg_runtime_dir = Some(run);
    f.env.registry_auth_file = Some(raf);
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        basic("registry", "auth")
    );
    // XDG_RUNTIME_DIR is not consulted at all while REGISTRY_AUTH_FILE is set.
    assert_eq!(f.resolve("run.io", None).unwrap(), Credential::Anonymous);
}

#[test]
fn xdg_runtime_dir_before_config_dir() {
    let mut f = Fixture::new();
    let run = f.root().join("run");
    f.write(
        &run.join("containers/auth.json"),
        &auths(&[("test.io", &auth_entry("runtime:dir"))]),
    );
    f.write(
        &f.home().join(".config/containers/auth.json"),
        &auths(&[("test.io", &auth_entry("config:dir"))]),
    );
    f.env.xdg_runtime_dir = Some(run);
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("runtime", "dir"));
}

#[test]
fn home_config_containers_auth_json_is_last() {
    let f = Fixture::new();
    f.write(
        &f.home().join(".config/containers/auth.json"),
        &auths(&[("test.io", &auth_entry("config:dir"))]),
    );
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("config", "dir"));
}

#[test]
fn xdg_config_home_replaces_dot_config() {
    let mut f = Fixture::new();
    f.write(
        &f.home().join(".config/containers/auth.json"),
        &auths(&[("test.io", &auth_entry("dot:config"))]),
    );
    let xch = f.root().join("xch");
    f.write(
        &xch.join("containers/auth.json"),
        &auths(&[("other.io", &auth_entry("xdg:config"))]),
    );
    f.env.xdg_config_home = Some(xch);
    assert_eq!(f.resolve("other.io", None).unwrap(), basic("xdg", "config"));
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
}

#[test]
fn found_file_without_entry_falls_through_to_the_next() {
    let mut f = Fixture::new();
    f.docker_config(&auths(&[("docker.example", &auth_entry("d:d"))]));
    let raf = f.write(
        &f.root().join("raf.json"),
        &auths(&[("podman.example", &auth_entry("p:p"))]),
    );
    f.env.registry_auth_file = Some(raf);
    assert_eq!(f.resolve("docker.example", None).unwrap(), basic("d", "d"));
    assert_eq!(f.resolve("podman.example", None).unwrap(), basic("p", "p"));
}

#[test]
fn unusable_entry_falls_through_to_the_next_file() {
    let f = Fixture::new();
    // Docker Desktop style: an empty entry (the secret lives in a helper that is gone).
    f.docker_config(&auths(&[("test.io", "{}")]));
    f.write(
        &f.home().join(".config/containers/auth.json"),
        &auths(&[("test.io", &auth_entry("podman:user"))]),
    );
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("podman", "user"));
}

#[test]
fn candidate_files_are_deduplicated() {
    let home = PathBuf::from("/h");
    let env = KeychainEnv {
        home: Some(home.clone()),
        registry_auth_file: Some(home.join(".config/containers/auth.json")),
        ..KeychainEnv::default()
    };
    assert_eq!(
        env.candidate_files(),
        vec![
            home.join(".docker/config.json"),
            home.join(".config/containers/auth.json")
        ]
    );
}

#[test]
fn files_are_read_at_every_call() {
    let f = Fixture::new();
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
    f.docker_config(&auths(&[("test.io", &auth_entry("u:1"))]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("u", "1"));
    f.docker_config(&auths(&[("test.io", &auth_entry("u:2"))]));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("u", "2"));
}

// ---- credential helpers ----------------------------------------------------------------

#[test]
fn cred_helpers_selected_by_exact_key() {
    let f = Fixture::new();
    f.helper_for("fake", "test.io", "helper-user", "helper-secret");
    f.docker_config(
        "{\"credHelpers\": {\"test.io\": \"fake\"}, \
          \"auths\": {\"test.io\": {\"username\": \"file\", \"password\": \"store\"}}}",
    );
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        basic("helper-user", "helper-secret")
    );
    assert_eq!(f.asked("fake"), vec!["test.io"]);
}

#[test]
fn cred_helpers_key_must_match_exactly() {
    let f = Fixture::new();
    f.helper_for("fake", "test.io", "helper-user", "helper-secret");
    f.docker_config(
        "{\"credHelpers\": {\"https://test.io\": \"fake\"}, \
          \"auths\": {\"test.io\": {\"username\": \"file\", \"password\": \"store\"}}}",
    );
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("file", "store"));
    assert!(f.asked("fake").is_empty());
}

#[test]
fn cred_helpers_for_the_repository_key() {
    let f = Fixture::new();
    f.helper_for("repo", "test.io/team/app", "repo-user", "repo-secret");
    f.docker_config(
        "{\"credHelpers\": {\"test.io/team/app\": \"repo\"}, \
          \"auths\": {\"test.io\": {\"username\": \"file\", \"password\": \"store\"}}}",
    );
    assert_eq!(
        f.resolve("test.io", Some("team/app")).unwrap(),
        basic("repo-user", "repo-secret")
    );
    assert_eq!(
        f.resolve("test.io", Some("team/x")).unwrap(),
        basic("file", "store")
    );
}

#[test]
fn empty_cred_helpers_entry_selects_the_file_store() {
    let f = Fixture::new();
    f.helper_for("store", "test.io", "s", "s");
    f.docker_config(
        "{\"credsStore\": \"store\", \"credHelpers\": {\"test.io\": \"\"}, \
          \"auths\": {\"test.io\": {\"username\": \"file\", \"password\": \"store\"}}}",
    );
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("file", "store"));
    assert!(f.asked("store").is_empty());
}

#[test]
fn creds_store_is_asked_for_repository_then_registry_key() {
    let f = Fixture::new();
    f.helper_for("desktop", "test.io", "store-user", "store-secret");
    f.docker_config(
        "{\"credsStore\": \"desktop\", \
          \"auths\": {\"test.io\": {\"username\": \"file\", \"password\": \"ignored\"}}}",
    );
    assert_eq!(
        f.resolve("test.io", Some("team/app")).unwrap(),
        basic("store-user", "store-secret")
    );
    assert_eq!(f.asked("desktop"), vec!["test.io/team/app", "test.io"]);
}

#[test]
fn creds_store_for_docker_hub_is_asked_the_v1_key_and_no_alias() {
    let f = Fixture::new();
    f.helper(
        "desktop",
        "echo 'credentials not found in native keychain'; exit 1",
    );
    f.docker_config("{\"credsStore\": \"desktop\"}");
    assert_eq!(
        f.resolve("index.docker.io", Some("library/ubuntu"))
            .unwrap(),
        Credential::Anonymous
    );
    assert_eq!(
        f.asked("desktop"),
        vec![
            "index.docker.io/library/ubuntu",
            "https://index.docker.io/v1/"
        ]
    );
}

#[test]
fn helper_token_username_gives_identity_token() {
    let f = Fixture::new();
    f.helper_for("gcr", "test.io", "<token>", "refresh-token");
    f.docker_config("{\"credHelpers\": {\"test.io\": \"gcr\"}}");
    assert_eq!(
        f.resolve("test.io", None).unwrap(),
        Credential::IdentityToken("refresh-token".into())
    );
}

#[test]
fn helper_not_found_in_native_keychain_is_anonymous() {
    let f = Fixture::new();
    f.helper(
        "empty",
        "echo 'credentials not found in native keychain'; exit 1",
    );
    f.docker_config("{\"credHelpers\": {\"test.io\": \"empty\"}}");
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
    assert_eq!(f.asked("empty"), vec!["test.io"]);
}

#[test]
fn helper_not_found_falls_through_to_the_next_file() {
    let f = Fixture::new();
    f.helper(
        "empty",
        "echo 'credentials not found in native keychain' >&2; exit 1",
    );
    f.docker_config("{\"credsStore\": \"empty\"}");
    f.write(
        &f.home().join(".config/containers/auth.json"),
        &auths(&[("test.io", &auth_entry("podman:user"))]),
    );
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("podman", "user"));
}

#[test]
fn missing_helper_is_an_error_without_secret() {
    let f = Fixture::new();
    f.docker_config(
        "{\"credHelpers\": {\"test.io\": \"nowhere\"}, \
          \"auths\": {\"test.io\": {\"username\": \"u\", \"password\": \"topsecret\"}}}",
    );
    let err = f.resolve("test.io", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains("docker-credential-nowhere"), "{err}");
    assert!(err.message.contains("test.io"), "{err}");
    assert!(!err.message.contains("topsecret"), "{err}");
}

#[test]
fn helper_failing_with_other_text_is_an_error_without_its_output() {
    let f = Fixture::new();
    f.helper(
        "broken",
        "echo 'boom: token sk-LEAKED-123 rejected'; echo 'sk-LEAKED-456' >&2; exit 1",
    );
    f.docker_config("{\"credHelpers\": {\"test.io\": \"broken\"}}");
    let err = f.resolve("test.io", Some("a/b")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains("docker-credential-broken"), "{err}");
    assert!(err.message.contains("test.io"), "{err}");
    assert!(!err.message.contains("LEAKED"), "{err}");
}

#[test]
fn helper_with_invalid_json_is_an_error() {
    let f = Fixture::new();
    f.helper(
        "garbled",
        "printf '{\"Username\": \"u\", \"Secret\": \"sekrit'",
    );
    f.docker_config("{\"credHelpers\": {\"test.io\": \"garbled\"}}");
    let err = f.resolve("test.io", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains("docker-credential-garbled"), "{err}");
    assert!(!err.message.contains("sekrit"), "{err}");
}

#[test]
fn helper_error_stops_the_lookup() {
    let f = Fixture::new();
    f.helper("broken", "exit 2");
    f.docker_config("{\"credsStore\": \"broken\"}");
    f.write(
        &f.home().join(".config/containers/auth.json"),
        &auths(&[("test.io", &auth_entry("podman:user"))]),
    );
    assert_eq!(f.resolve("test.io", None).unwrap_err().kind, ErrorKind::Io);
}

#[test]
fn helper_that_hangs_is_killed_at_the_timeout() {
    let mut f = Fixture::new();
    f.helper("slow", "exec sleep 20");
    f.docker_config("{\"credHelpers\": {\"test.io\": \"slow\"}}");
    f.env.helper_timeout = Some(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = f.resolve("test.io", None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(err.message.contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn helper_does_not_inherit_stdin() {
    // `cat` in the preamble reads to EOF: with an inherited stdin it would wait forever
    // (and the timeout would fire); with our pipe it sees exactly the key.
    let mut f = Fixture::new();
    f.helper_for("fake", "test.io", "u", "p");
    f.docker_config("{\"credHelpers\": {\"test.io\": \"fake\"}}");
    f.env.helper_timeout = Some(Duration::from_secs(10));
    assert_eq!(f.resolve("test.io", None).unwrap(), basic("u", "p"));
}

#[test]
fn helper_answer_without_secret_is_no_credential() {
    let f = Fixture::new();
    f.helper(
        "half",
        "printf '{\"ServerURL\":\"test.io\",\"Username\":\"u\",\"Secret\":\"\"}'",
    );
    f.docker_config("{\"credHelpers\": {\"test.io\": \"half\"}}");
    assert_eq!(f.resolve("test.io", None).unwrap(), Credential::Anonymous);
}

#[test]
fn helper_that_exits_without_reading_stdin() {
    let f = Fixture::new();
    let path = f.bin().join("docker-credential-quick");
    {
        use std::os::unix::fs::PermissionsExt;
        fs::write(
            &path,
            "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n",
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    f.docker_config("{\"credHelpers\": {\"test.io\": \"quick\"}}");
    let long_repo = "r/".repeat(40_000) + "x";
    assert_eq!(
        f.resolve("test.io", Some(&long_repo)).unwrap(),
        Credential::Anonymous
    );
}
