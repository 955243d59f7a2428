//! Which users to sync: the configured list and the transitive members of configured Entra
//! groups, read again at every lease pass.

use crate::auth::AppTokenSource;
use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::worker::UsersSource;
use presently_engine::graph::GraphClient;
use presently_engine::policy::OrgPolicy;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Deserialize)]
struct MembersPage {
    #[serde(default)]
    value: Vec<DirectoryObject>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct DirectoryObject {
    #[serde(rename = "@odata.type")]
    odata_type: Option<String>,
    id: String,
    #[serde(rename = "userPrincipalName")]
    upn: Option<String>,
}

/// Pages of one group's member list at most (against a server that never stops paging).
const MAX_MEMBER_PAGES: usize = 10_000;

/// The users among `group`'s transitive members (nested groups' members included; the
/// groups themselves left out), by user principal name (by object id where Graph gave
/// none): the name the policy file's groups match, and the one the list uses.
pub async fn group_members(
    graph: &GraphClient,
    tokens: &AppTokenSource,
    group: &str,
) -> Result<Vec<String>, ServerError> {
    let mut url = graph.url(&format!(
        "/v1.0/groups/{}/transitiveMembers?$top=999&$select=id,userPrincipalName",
        url::form_urlencoded::byte_serialize(group.as_bytes()).collect::<String>()
    ))?;
    let mut users = Vec::new();
    for _ in 0..MAX_MEMBER_PAGES {
        let token = tokens.token().await?;
        let body = match graph.get(url, &token, None).await {
            Ok(body) => body,
            Err(presently_engine::Error::Server {
                status: 403, code, ..
            }) => {
                return Err(ServerError::PermissionMissing {
                    what: format!("the members of group {group}"),
                    code,
                    permission: "GroupMember.Read.All",
                })
            }
            Err(e) => return Err(e.into()),
        };
        let page: MembersPage = serde_json::from_slice(&body).map_err(|e| ServerError::Sync {
            mailbox: format!("group {group}"),
            message: format!("the member list is unreadable: {e}"),
        })?;
        users.extend(
            page.value
                .into_iter()
                .filter(|o| o.odata_type.as_deref() == Some("#microsoft.graph.user"))
                .map(|o| o.upn.filter(|u| !u.is_empty()).unwrap_or(o.id)),
        );
        match page.next_link {
            Some(next) => url = graph.checked_link(&next)?,
            None => return Ok(users),
        }
    }
    Err(ServerError::Sync {
        mailbox: format!("group {group}"),
        message: format!("the member list went past {MAX_MEMBER_PAGES} pages"),
    })
}

/// The users to sync now: `config`'s list and its groups' members, sorted, each once,
/// less those whose policy group turns calendar sync off.
pub async fn configured_users(
    config: &ServerConfig,
    graph: &GraphClient,
    tokens: &AppTokenSource,
    policy: Option<&OrgPolicy>,
) -> Result<Vec<String>, ServerError> {
    let mut users = config.users.list.clone();
    for group in &config.users.groups {
        users.extend(group_members(graph, tokens, group).await?);
    }
    users.sort();
    users.dedup();
    let mut synced = Vec::with_capacity(users.len());
    for user in users {
        let rules = crate::policy::for_user(policy, &user, &config.sync)?;
        if rules.sync {
            synced.push(user);
        } else {
            tracing::debug!(%user, group = ?rules.group, "calendar sync is off for this user by policy");
        }
    }
    Ok(synced)
}

/// A [`UsersSource`] that reads `config_path` again each time (users join and leave the
/// list and the groups while the server runs). If the file or a group cannot be read, the
/// pass keeps the last list. The policy is the one in force at each pass.
pub fn users_source(
    config_path: PathBuf,
    graph: GraphClient,
    tokens: Arc<AppTokenSource>,
    policy: impl Into<crate::policy::SharedPolicy>,
) -> UsersSource {
    let policy: crate::policy::SharedPolicy = policy.into();
    Arc::new(move || {
        let (path, graph, tokens, policy) = (
            config_path.clone(),
            graph.clone(),
            tokens.clone(),
            policy.clone(),
        );
        Box::pin(async move {
            let config = ServerConfig::load(&path)?;
            let policy = policy.current();
            configured_users(&config, &graph, &tokens, policy.as_deref()).await
        })
    })
}
