//! `push`, `registry login` and `registry logout`.

use std::io::{IsTerminal, Read};
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

/// The user name and password of `registry login`: the password from stdin with
/// `--password-stdin`, else both asked for on the terminal (a script without a terminal is
/// told which flags to give, rather than hang).
fn credentials(username: Option<String>, password_stdin: bool) -> Result<(String, String), Error> {
    let terminal = std::io::stdin().is_terminal();
    let username = match username {
        Some(u) => u,
        None if terminal && !password_stdin => {
            eprint!("Username: ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Error::Usage(format!("reading the user name: {e}")))?;
            line.trim().to_owned()
        }
        None => return Err(Error::Usage("registry login: give --username".into())),
    };
    let secret = if password_stdin {
        let mut secret = String::new();
        std::io::stdin()
            .read_to_string(&mut secret)
            .map_err(|e| Error::Usage(format!("reading the password from stdin: {e}")))?;
        secret.trim_end_matches(['\n', '\r']).to_owned()
    } else if terminal {
        rpassword::prompt_password("Password: ")
            .map_err(|e| Error::Usage(format!("reading the password: {e}")))?
    } else {
        return Err(Error::Usage(
            "registry login: stdin is not a terminal: give the password on stdin with --password-stdin".into(),
        ));
    };
    if secret.is_empty() || username.is_empty() {
        return Err(Error::Usage(
            "registry login: an empty user name or password".into(),
        ));
    }
    Ok((username, secret))
}

pub async fn run(installer: &Installer, cmd: RegistryCommand, out: &Output) -> Result<(), Exit> {
    match cmd {
        RegistryCommand::Login {
            host,
            username,
            password_stdin,
        } => {
            let (username, secret) = credentials(username, password_stdin)?;
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
