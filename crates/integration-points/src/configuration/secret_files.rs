//! Secrets read from files named by `APP__…_FILE` variables, in the
//! convention of Docker secrets (and of the official database images): the
//! secret is the file's content, less one trailing line break, so that it
//! need not sit in the environment, where `docker inspect` and child
//! processes see it.

use std::collections::HashMap;
use std::path::Path;

/// The settings that may come from a file, as the variables that name them.
pub(super) const SECRET_VARIABLES: [&str; 2] = ["APP__DATABASE__URL", "APP__AUTH__KEYS"];

/// A `_FILE` variable that cannot be honoured.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum SecretFileError {
    /// Both the variable and its `_FILE` form are set.
    #[error("{variable} and {variable}_FILE are both set; set one")]
    Both { variable: &'static str },
    /// The file cannot be read (its content is never part of the message).
    #[error("{variable}_FILE: cannot read {path}: {reason}")]
    Unreadable {
        variable: &'static str,
        path: String,
        reason: String,
    },
}

/// The environment the settings are read from: `variables` with each
/// `APP__…_FILE` replaced by the variable it stands for, set to the
/// content of the file it names.
pub(super) fn resolve(
    variables: impl IntoIterator<Item = (String, String)>,
    read: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<HashMap<String, String>, SecretFileError> {
    let mut variables: HashMap<String, String> = variables.into_iter().collect();
    for variable in SECRET_VARIABLES {
        let Some(path) = variables.remove(&format!("{variable}_FILE")) else {
            continue;
        };
        if variables.contains_key(variable) {
            return Err(SecretFileError::Both { variable });
        }
        let content = read(Path::new(&path)).map_err(|error| SecretFileError::Unreadable {
            variable,
            path: path.clone(),
            reason: error.kind().to_string(),
        })?;
        variables.insert(variable.to_owned(), without_line_break(content));
    }
    Ok(variables)
}

/// `content` without one trailing `\n` or `\r\n`: editors and `echo` add
/// one, and it is never part of a secret.
fn without_line_break(mut content: String) -> String {
    if content.ends_with('\n') {
        content.pop();
        if content.ends_with('\r') {
            content.pop();
        }
    }
    content
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn files(path: &Path) -> io::Result<String> {
        match path.to_str() {
            Some("/run/secrets/url") => Ok("postgres://app:s3cret@db/points\n".to_owned()),
            Some("/run/secrets/keys") => Ok("[{\"name\": \"a\"}]\r\n".to_owned()),
            Some("/run/secrets/two-lines") => Ok("secret\n\n".to_owned()),
            _ => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    #[test]
    fn a_file_variable_becomes_its_setting_without_the_trailing_line_break() {
        let resolved = resolve(
            vars(&[
                ("APP__DATABASE__URL_FILE", "/run/secrets/url"),
                ("APP__AUTH__KEYS_FILE", "/run/secrets/keys"),
                ("APP__LOG__FORMAT", "json"),
            ]),
            files,
        )
        .expect("resolved");

        assert_eq!(
            resolved,
            HashMap::from([
                (
                    "APP__DATABASE__URL".to_owned(),
                    "postgres://app:s3cret@db/points".to_owned()
                ),
                (
                    "APP__AUTH__KEYS".to_owned(),
                    "[{\"name\": \"a\"}]".to_owned()
                ),
                ("APP__LOG__FORMAT".to_owned(), "json".to_owned()),
            ])
        );
    }

    #[test]
    fn only_one_line_break_is_removed() {
        let resolved = resolve(
            vars(&[("APP__DATABASE__URL_FILE", "/run/secrets/two-lines")]),
            files,
        )
        .expect("resolved");

        assert_eq!(resolved["APP__DATABASE__URL"], "secret\n");
    }

    #[test]
    fn a_variable_and_its_file_form_together_are_refused() {
        let result = resolve(
            vars(&[
                ("APP__DATABASE__URL", "sqlite::memory:"),
                ("APP__DATABASE__URL_FILE", "/run/secrets/url"),
            ]),
            files,
        );

        assert_eq!(
            result,
            Err(SecretFileError::Both {
                variable: "APP__DATABASE__URL"
            })
        );
    }

    #[test]
    fn an_unreadable_file_is_named_without_any_content() {
        let result = resolve(
            vars(&[("APP__AUTH__KEYS_FILE", "/run/secrets/missing")]),
            files,
        );

        let message = result.expect_err("refused").to_string();
        assert_eq!(
            message,
            "APP__AUTH__KEYS_FILE: cannot read /run/secrets/missing: entity not found"
        );
    }

    #[test]
    fn other_variables_ending_in_file_are_left_alone() {
        let resolved = resolve(vars(&[("APP__LOG__FILE", "x")]), files).expect("resolved");

        assert_eq!(
            resolved.get("APP__LOG__FILE").map(String::as_str),
            Some("x")
        );
    }
}
