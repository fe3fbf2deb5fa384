//! The token-mode access policy: users, passwords, and which actions each
//! may get on which resource.

use crate::{
    MIRROR_REPO_PREFIX, PUBLIC_REPO_PREFIX, TOKEN_MIRROR, TOKEN_MIRROR_PASSWORD, TOKEN_PULLER,
    TOKEN_PULLER_PASSWORD, TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD,
};

/// One `type:name:actions` scope, e.g. `repository:foo/bar:pull,push`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    pub typ: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses `type:name:actions`. The name may itself contain `:` (e.g. a
    /// registry host with port), so type ends at the first and actions start
    /// after the last colon. A resource class (`repository(plugin)`) is dropped.
    pub fn parse(s: &str) -> Option<Scope> {
        let (typ, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        let typ = typ.split('(').next().unwrap_or(typ);
        if typ.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            typ: typ.to_string(),
            name: name.to_string(),
            actions: actions
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

/// Checks a username/password pair; returns the user on success.
pub(crate) fn authenticate(user: &str, password: &str) -> Option<&'static str> {
    match (user, password) {
        (TOKEN_PUSHER, TOKEN_PUSHER_PASSWORD) => Some(TOKEN_PUSHER),
        (TOKEN_PULLER, TOKEN_PULLER_PASSWORD) => Some(TOKEN_PULLER),
        (TOKEN_MIRROR, TOKEN_MIRROR_PASSWORD) => Some(TOKEN_MIRROR),
        _ => None,
    }
}

/// Actions `user` (`None` = anonymous) may have on a resource.
fn allowed(user: Option<&str>, typ: &str, name: &str) -> &'static [&'static str] {
    match (user, typ) {
        (Some(TOKEN_PUSHER), "repository") => &["pull", "push", "delete", "*"],
        (Some(TOKEN_PUSHER), "registry") if name == "catalog" => &["*"],
        (Some(TOKEN_PULLER), "repository") => &["pull"],
        (Some(TOKEN_MIRROR), "repository") if name.starts_with(MIRROR_REPO_PREFIX) => {
            &["pull", "push"]
        }
        (_, "repository") if name.starts_with(PUBLIC_REPO_PREFIX) => &["pull"],
        _ => &[],
    }
}

/// Grants, per requested scope, the intersection of requested and allowed
/// actions; scopes with nothing granted are left out. Repeated scopes for the
/// same resource are merged.
pub(crate) fn grant(user: Option<&str>, requested: &[Scope]) -> Vec<Scope> {
    let mut out: Vec<Scope> = Vec::new();
    for scope in requested {
        let ok = allowed(user, &scope.typ, &scope.name);
        let actions: Vec<String> = scope
            .actions
            .iter()
            .filter(|a| ok.contains(&a.as_str()))
            .cloned()
            .collect();
        if actions.is_empty() {
            continue;
        }
        match out
            .iter_mut()
            .find(|s| s.typ == scope.typ && s.name == scope.name)
        {
            Some(existing) => {
                for a in actions {
                    if !existing.actions.contains(&a) {
                        existing.actions.push(a);
                    }
                }
            }
            None => out.push(Scope {
                typ: scope.typ.clone(),
                name: scope.name.clone(),
                actions,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Scope {
        Scope::parse(x).unwrap()
    }

    #[test]
    fn parse_scopes() {
        assert_eq!(
            s("repository:foo/bar:pull,push"),
            Scope {
                typ: "repository".into(),
                name: "foo/bar".into(),
                actions: vec!["pull".into(), "push".into()]
            }
        );
        assert_eq!(s("repository(plugin):a:pull").typ, "repository");
        assert_eq!(
            s("repository:127.0.0.1:5000/x:pull").name,
            "127.0.0.1:5000/x"
        );
        assert_eq!(s("registry:catalog:*").actions, vec!["*"]);
        assert!(Scope::parse("nonsense").is_none());
    }

    #[test]
    fn policy() {
        let req = [s("repository:demo/app:pull,push"), s("registry:catalog:*")];
        let p = grant(Some(TOKEN_PUSHER), &req);
        assert_eq!(p.len(), 2);
        let p = grant(Some(TOKEN_PULLER), &req);
        assert_eq!(p, vec![s("repository:demo/app:pull")]);
        assert!(grant(None, &req).is_empty());
        assert_eq!(
            grant(None, &[s("repository:public/app:pull,push")]),
            vec![s("repository:public/app:pull")]
        );
    }
}
