//! Tag listing and the catalog, following `Link` pagination to the end.

use super::client::Client;
use crate::error::{Error, Result};
use crate::name::{Registry, Repository};
use crate::transport::{redact, Session};
use serde::Deserialize;
use std::collections::HashSet;
use url::Url;

/// Largest page size asked for: registries such as ECR refuse more than 1000.
pub const PAGE_SIZE: u32 = 1000;
/// A registry that hands out more pages than this is looping or hostile.
pub const MAX_PAGES: usize = 100_000;
/// One page of JSON is at most this big.
pub const PAGE_LIMIT: u64 = 16 * 1024 * 1024;

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

/// The URL of the next page from a `Link` header (`<url>; rel="next"`), resolved against
/// the URL that answered.
pub fn next_link(link: &str, base: &Url) -> Result<Option<Url>> {
    for part in link.split(',') {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some(end) = rest.find('>') else {
            continue;
        };
        let target = &rest[..end];
        let params = rest[end + 1..].to_ascii_lowercase();
        // Registries that send a single link without `rel` mean the next page.
        let is_next = params.contains("rel=\"next\"")
            || params.contains("rel=next")
            || !params.contains("rel=");
        if !is_next {
            continue;
        }
        if target.is_empty() {
            return Ok(None);
        }
        return base.join(target).map(Some).map_err(|e| {
            Error::invalid_response(format!(
                "Link header {link:?} from {} is not a usable URL: {e}",
                redact::url(base)
            ))
        });
    }
    Ok(None)
}

fn paginate(
    session: &Session<'_>,
    first_path: &str,
    what: &str,
    mut take: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut url = session.url(first_path)?;
    let start_origin = url.origin();
    let mut seen = HashSet::new();
    for _ in 0..MAX_PAGES {
        if !seen.insert(url.to_string()) {
            return Err(Error::invalid_response(format!(
                "{what}: the registry's Link pagination loops back to {}",
                redact::url(&url)
            )));
        }
        let request =
            crate::transport::Request::new("GET", url.clone()).header("Accept", "application/json");
        let mut response = session.send_expect(request, &[200])?;
        let body = response.read_limited(PAGE_LIMIT, what)?;
        take(&body)?;
        let link = response.header("link").map(String::from);
        let Some(link) = link else {
            return Ok(());
        };
        let Some(next) = next_link(&link, &response.url)? else {
            return Ok(());
        };
        if next.origin() != start_origin {
            return Err(Error::invalid_response(format!(
                "{what}: the registry's Link points at another origin ({})",
                redact::url(&next)
            )));
        }
        url = next;
    }
    Err(Error::invalid_response(format!(
        "{what}: more than {MAX_PAGES} pages"
    )))
}

/// Every tag of `repository` (`registry/repository`, no tag or digest).
pub fn list(client: &Client, repository: &str) -> Result<Vec<String>> {
    let repo = Repository::parse(repository)?;
    let op = client.operation()?;
    let session = op
        .ctx
        .session(repo.registry(), Some(repo.path()), vec![repo.scope("pull")]);
    let mut tags = Vec::new();
    let what = format!("tags of {repo}");
    paginate(
        &session,
        &format!("/v2/{}/tags/list?n={}", repo.path(), client.page_size()),
        &what,
        |body| {
            let page: TagsPage = serde_json::from_slice(body).map_err(|e| {
                Error::invalid_response(format!("{what}: a page is not valid JSON: {e}"))
            })?;
            tags.extend(page.tags.unwrap_or_default());
            Ok(())
        },
    )?;
    Ok(tags)
}

/// Every repository of `registry` (`host[:port]`).
pub fn catalog(client: &Client, registry: &str) -> Result<Vec<String>> {
    let reg = Registry::parse(registry)?;
    let op = client.operation()?;
    let session = op
        .ctx
        .session(&reg, None, vec!["registry:catalog:*".to_string()]);
    let mut repos = Vec::new();
    let what = format!("catalog of {reg}");
    paginate(
        &session,
        &format!("/v2/_catalog?n={}", client.page_size()),
        &what,
        |body| {
            let page: CatalogPage = serde_json::from_slice(body).map_err(|e| {
                Error::invalid_response(format!("{what}: a page is not valid JSON: {e}"))
            })?;
            repos.extend(page.repositories.unwrap_or_default());
            Ok(())
        },
    )?;
    Ok(repos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_parsing() {
        let base = Url::parse("http://r:5000/v2/a/tags/list?n=2").unwrap();
        let next = next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#, &base)
            .unwrap()
            .unwrap();
        assert_eq!(next.as_str(), "http://r:5000/v2/a/tags/list?last=b&n=2");
        let abs = next_link(
            r#"<https://other/v2/x?n=1>; rel="prev", <http://r:5000/v2/y?n=1>; rel=next"#,
            &base,
        )
        .unwrap()
        .unwrap();
        assert_eq!(abs.as_str(), "http://r:5000/v2/y?n=1");
        assert_eq!(next_link(r#"<x>; rel="prev""#, &base).unwrap(), None);
        assert_eq!(next_link("garbage", &base).unwrap(), None);
        assert!(next_link("</v2/z>", &base).unwrap().is_some());
    }
}
