//! `registry login` and `registry logout`: credentials checked against the registry, then
//! kept in the docker-format auth file that docker, podman, skopeo and oras read too.

use std::path::PathBuf;

use crate::context::Context;
use crate::error::Result;
use crate::net::oci::creds::{self, Credential};

/// Checks `credential` against `host` (a `GET /v2/` that must succeed with it) and stores it
/// for that host; returns the file written.
pub(crate) async fn login(ctx: &Context, host: &str, credential: Credential) -> Result<PathBuf> {
    let host = host.to_ascii_lowercase();
    let client = ctx
        .oci_client()
        .await?
        .with_credential(&host, credential.clone());
    client.ping(&host).await?;
    let file = creds::login_file(ctx.config().oci.auth_file.as_deref())?;
    creds::store(&file, &host, Some(&credential))?;
    Ok(file)
}

/// Removes `host`'s credentials from the auth file; whether there were any.
pub(crate) fn logout(ctx: &Context, host: &str) -> Result<bool> {
    let file = creds::login_file(ctx.config().oci.auth_file.as_deref())?;
    if !file.exists() {
        return Ok(false);
    }
    creds::store(&file, &host.to_ascii_lowercase(), None)
}
