//! Entity tags (contract §5): a point's revision written as a strong tag, and
//! the `If-Match` / `If-None-Match` lists read back into revisions.
//!
//! The tag is `"<ext.ct in epoch milliseconds>-<version>"`: the version moves on
//! every write, and the creation time tells apart two lives of one id.

use domain::integration_point::{IfMatch, Revision, Timestamp, Version};

/// The strong entity tag of a revision, quotes included.
pub(crate) fn etag(revision: Revision) -> String {
    format!("\"{}\"", opaque(revision))
}

/// The precondition an `If-Match` header states.
///
/// `*` matches any existing point. Otherwise only strong tags this service
/// could have issued count: `If-Match` compares strongly (RFC 9110 §13.1.1), so
/// a weak or unparseable tag simply never matches.
pub(crate) fn if_match(header: &str) -> IfMatch {
    if header.trim() == "*" {
        return IfMatch::Any;
    }
    IfMatch::OneOf(
        entity_tags(header)
            .filter(|tag| !tag.weak)
            .filter_map(|tag| parse_opaque(tag.opaque))
            .collect(),
    )
}

/// Whether an `If-None-Match` header matches `current`, so that a GET may
/// answer 304. The comparison is weak (RFC 9110 §13.1.2): `W/"…"` matches too.
pub(crate) fn none_match(header: &str, current: Revision) -> bool {
    if header.trim() == "*" {
        return true;
    }
    let current = opaque(current);
    entity_tags(header).any(|tag| tag.opaque == current)
}

fn opaque(revision: Revision) -> String {
    format!(
        "{}-{}",
        revision.created_at.as_millis(),
        revision.version.get()
    )
}

fn parse_opaque(opaque: &str) -> Option<Revision> {
    // The creation time may be negative (before 1970), the version never is.
    let (millis, version) = opaque.rsplit_once('-')?;
    Some(Revision {
        created_at: Timestamp::from_millis(millis.parse().ok()?).ok()?,
        version: Version::new(version.parse().ok()?).ok()?,
    })
}

/// One entity tag of a list, without its quotes.
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// The entity tags of a comma-separated list, skipping malformed members.
fn entity_tags(header: &str) -> impl Iterator<Item = EntityTag<'_>> {
    let mut rest = header;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                return None;
            }
            let (weak, tagged) = match rest.strip_prefix("W/") {
                Some(tagged) => (true, tagged),
                None => (false, rest),
            };
            // A quoted string cannot hold a quote, but it may hold a comma, so
            // members are delimited by their quotes rather than split on commas.
            let parsed = tagged
                .strip_prefix('"')
                .and_then(|quoted| quoted.split_once('"'));
            match parsed {
                Some((opaque, after)) => {
                    rest = after;
                    return Some(EntityTag { weak, opaque });
                }
                None => rest = rest.split_once(',').map_or("", |(_, after)| after),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(millis: i64, version: i64) -> Revision {
        Revision {
            created_at: Timestamp::from_millis(millis).expect("in range"),
            version: Version::new(version).expect("positive"),
        }
    }

    #[test]
    fn a_tag_is_the_creation_millis_and_the_version_in_quotes() {
        assert_eq!(etag(revision(1_567_000_000_427, 3)), r#""1567000000427-3""#);
    }

    #[test]
    fn a_tag_reads_back_as_its_revision() {
        for current in [revision(1_567_000_000_427, 3), revision(-5, 1)] {
            assert_eq!(
                if_match(&etag(current)),
                IfMatch::OneOf(vec![current]),
                "{current:?}"
            );
        }
    }

    #[test]
    fn a_star_matches_anything() {
        assert_eq!(if_match(" * "), IfMatch::Any);
        assert!(none_match("*", revision(1, 1)));
    }

    #[test]
    fn if_match_reads_every_strong_tag_of_a_list() {
        let header = r#""1-1", W/"2-2" ,"3-3""#;
        assert_eq!(
            if_match(header),
            IfMatch::OneOf(vec![revision(1, 1), revision(3, 3)])
        );
    }

    #[test]
    fn malformed_tags_never_match_but_do_not_hide_the_others() {
        let header = r#"garbage, "x-1", "1-0", "1-1-", 1-1, "2-2""#;
        assert_eq!(if_match(header), IfMatch::OneOf(vec![revision(2, 2)]));
    }

    #[test]
    fn a_list_without_a_usable_tag_is_a_precondition_nothing_meets() {
        assert_eq!(if_match("nonsense"), IfMatch::OneOf(vec![]));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let current = revision(7, 2);
        assert!(none_match(r#"W/"7-2""#, current));
        assert!(none_match(r#""1-1", "7-2""#, current));
        assert!(!none_match(r#""7-1""#, current));
        assert!(!none_match("", current));
    }
}
