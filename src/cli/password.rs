//! The password of an encrypted minisign secret key: from `--password-file`, else a prompt
//! on the terminal; never read from a pipe, where a script would hang or leak it.

use std::io::IsTerminal;
use std::path::PathBuf;

/// Where the password comes from; it is read only if the key turns out to be encrypted.
pub fn source(password_file: Option<PathBuf>) -> impl FnOnce() -> Result<String, String> {
    move || match password_file {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
            Ok(text.lines().next().unwrap_or_default().to_owned())
        }
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password("Password for the secret key: ")
                .map_err(|e| format!("cannot read the password: {e}"))
        }
        None => Err(
            "the secret key is encrypted and stdin is not a terminal: give --password-file FILE"
                .to_owned(),
        ),
    }
}
