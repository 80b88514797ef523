//! `push`, `registry login` and `registry logout`.

use std::io::Read;
use std::path::Path;

use attune_pack::{Credential, Error, Installer, PushOptions};
use serde_json::json;

use super::args::RegistryCommand;
use super::batch::Exit;
use super::output::Output;

/// `push PACK TARGET [--tag T]`: the reference and digest on stdout.
pub async fn push(
    installer: &Installer,
    pack_path: &Path,
    target: &str,
    opts: PushOptions,
    out: &Output,
) -> Result<(), Exit> {
    let pushed = installer.push(pack_path, target, opts).await?;
    out.result(
        json!({"reference": pushed.reference, "digest": pushed.digest, "tag": pushed.tag, "uploaded": pushed.uploaded, "mounted": pushed.mounted}),
        || format!("Pushed {}\n{}", pushed.reference, pushed.digest),
    );
    Ok(())
}

pub async fn run(installer: &Installer, cmd: RegistryCommand, out: &Output) -> Result<(), Exit> {
    match cmd {
        RegistryCommand::Login { host, username, .. } => {
            let mut secret = String::new();
            std::io::stdin()
                .read_to_string(&mut secret)
                .map_err(|e| Error::Usage(format!("reading the password from stdin: {e}")))?;
            let secret = secret.trim_end_matches(['\n', '\r']).to_owned();
            if secret.is_empty() {
                return Err(Error::Usage("--password-stdin: stdin held no password".into()).into());
            }
            let file = installer
                .registry_login(&host, Credential { username, secret })
                .await?;
            out.result(json!({"registry": host, "auth_file": file}), || {
                format!(
                    "Login succeeded for {host} (credentials in {})",
                    file.display()
                )
            });
        }
        RegistryCommand::Logout { host } => {
            let removed = installer.registry_logout(&host).await?;
            out.result(
                json!({"registry": host, "removed": removed}),
                || match removed {
                    true => format!("Removed the credentials for {host}"),
                    false => format!("No credentials were stored for {host}"),
                },
            );
        }
    }
    Ok(())
}
