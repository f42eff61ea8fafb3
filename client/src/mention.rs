//! When a message names you: the one rule the window, the terminal client and programs use.
//!
//! A message mentions you when its text (not the sender's name before it) holds your display
//! name or one of your keywords **as a word**, in any case: `ana` is named in `hi Ana!`,
//! `@ana` and `ana's`, not in `banana` or `anagram`. A word's edge is where a letter, digit or
//! `_` meets anything else (or the start or end of the text), so names in any script work:
//! `zoë` in `Zoë, look`, `Łukasz` in `łukasz?`. Case is compared by Unicode lower case.
//!
//! ```
//! use udprelay_client::mention::Mentions;
//! let mentions = Mentions::new(Some("ana"), &["release".to_string()]);
//! assert!(mentions.matches("hi ANA, look"));
//! assert!(mentions.matches("the release is out"));
//! assert!(!mentions.matches("a banana"));
//! assert_eq!(mentions.find("ana? @Ana"), [0..3, 6..9]);
//! ```

use std::ops::Range;

/// Your name and keywords, ready to look for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Each word to look for, in lower case, longest first (so `ana maria` wins over `ana`).
    words: Vec<Vec<char>>,
}

impl Mentions {
    /// Looks for `name` (a display name; `None` or blank: none) and each of `keywords`
    /// (blank ones skipped), each trimmed.
    pub fn new(name: Option<&str>, keywords: &[String]) -> Mentions {
        let mut words: Vec<Vec<char>> = name
            .into_iter()
            .chain(keywords.iter().map(String::as_str))
            .map(str::trim)
            .filter(|word| !word.is_empty())
            .map(|word| word.chars().flat_map(char::to_lowercase).collect())
            .collect();
        words.sort_by_key(|word: &Vec<char>| std::cmp::Reverse(word.len()));
        words.dedup();
        Mentions { words }
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether `text` names you.
    pub fn matches(&self, text: &str) -> bool {
        !self.words.is_empty() && self.next_match(text, 0).is_some()
    }

    /// Where `text` names you: byte ranges of `text`, in order, none overlapping (to mark).
    pub fn find(&self, text: &str) -> Vec<Range<usize>> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(range) = self.next_match(text, from) {
            from = range.end;
            found.push(range);
        }
        found
    }

    /// The first match that starts at or after byte `from` (a char boundary).
    fn next_match(&self, text: &str, from: usize) -> Option<Range<usize>> {
        let mut before = text[..from].chars().next_back();
        for (at, _) in text[from..].char_indices().map(|(i, c)| (from + i, c)) {
            if !before.is_some_and(is_word_char) {
                for word in &self.words {
                    if let Some(end) = match_at(text, at, word) {
                        return Some(at..end);
                    }
                }
            }
            before = text[at..].chars().next();
        }
        None
    }
}

/// A letter, digit or `_`: what a word is made of.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `text` holds `part` in any case, whole word or not: byte ranges of `text`, in order,
/// none overlapping (a search result marks these). The same comparison as a mention's, by
/// Unicode lower case, without the word's edges.
///
/// ```
/// use udprelay_client::mention::find_part;
/// assert_eq!(find_part("Release, re-release", "RELEASE"), [0..7, 12..19]);
/// assert!(find_part("anything", "").is_empty());
/// ```
pub fn find_part(text: &str, part: &str) -> Vec<Range<usize>> {
    let wanted: Vec<char> = part.chars().flat_map(char::to_lowercase).collect();
    let mut found = Vec::new();
    if wanted.is_empty() {
        return found;
    }
    let mut from = 0;
    for (at, _) in text.char_indices() {
        if at < from {
            continue;
        }
        if let Some(end) = lower_match_at(text, at, &wanted) {
            found.push(at..end);
            from = end;
        }
    }
    found
}

/// Where `word` (lower case) ends when it starts at byte `at` of `text` as a whole word.
fn match_at(text: &str, at: usize, word: &[char]) -> Option<usize> {
    let end = lower_match_at(text, at, word)?;
    let after = text[end..].chars().next();
    (!after.is_some_and(is_word_char)).then_some(end)
}

/// Where `word` (lower case) ends when `text` has it at byte `at`, in any case.
fn lower_match_at(text: &str, at: usize, word: &[char]) -> Option<usize> {
    let mut wanted = word.iter();
    let mut chars = text[at..].char_indices();
    let mut end = at;
    loop {
        if wanted.as_slice().is_empty() {
            return Some(end);
        }
        let (offset, c) = chars.next()?;
        for lower in c.to_lowercase() {
            if wanted.next() != Some(&lower) {
                return None;
            }
        }
        end = at + offset + c.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ana() -> Mentions {
        Mentions::new(Some("ana"), &[])
    }

    #[test]
    fn a_name_is_found_as_a_word_in_any_case() {
        for text in ["ana", "hi Ana!", "@ana: look", "ANA's turn", "(ana)", "ok, ana", "ana_"] {
            let expected = !text.ends_with('_');
            assert_eq!(ana().matches(text), expected, "{text:?}");
        }
        for text in ["banana", "anagram", "hi an a", "", "a_ana", "ana1"] {
            assert!(!ana().matches(text), "{text:?}");
        }
    }

    #[test]
    fn names_and_keywords_in_other_scripts_and_with_spaces() {
        let zoe = Mentions::new(Some(" Zoë "), &["Łukasz".into(), "".into(), "  ".into()]);
        assert!(zoe.matches("ZOË, look"));
        assert!(zoe.matches("łukasz?"));
        assert!(!zoe.matches("zoëlla"));
        let long = Mentions::new(Some("ana maria"), &["ana".into()]);
        assert_eq!(long.find("hi Ana Maria and ana"), [3..12, 17..20], "the longer word first");
        assert!(Mentions::new(None, &[]).is_empty());
        assert!(!Mentions::new(Some("   "), &[]).matches("   "));
    }

    #[test]
    fn every_match_is_found_and_marked_where_it_is() {
        let text = "Ana? ana! @ANA";
        let found = ana().find(text);
        assert_eq!(found.len(), 3);
        for range in found {
            assert_eq!(text[range].to_lowercase(), "ana");
        }
        // Lower case that changes length (`İ` is two chars lowered) still marks the original.
        let dotted = Mentions::new(Some("İz"), &[]);
        assert_eq!(dotted.find("hey İZ"), vec![4..7]);
    }

    proptest! {
        #[test]
        fn any_text_is_searched_without_panicking(text in "\\PC{0,40}", name in "\\PC{0,6}") {
            let mentions = Mentions::new(Some(&name), &[]);
            for range in mentions.find(&text) {
                prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
                prop_assert!(range.start < range.end);
            }
            let mut end = 0;
            for range in find_part(&text, &name) {
                prop_assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
                prop_assert!(end <= range.start && range.start < range.end, "in order, apart");
                end = range.end;
            }
        }
    }

    #[test]
    fn a_part_is_found_inside_words_in_any_case() {
        assert_eq!(find_part("a banana", "ANA"), vec![(3..6)], "not overlapping");
        assert_eq!(find_part("Zoë ZOË", "zoë"), [0..4, 5..9]);
        assert_eq!(find_part("hey İZ", "i̇z"), vec![(4..7)]);
        assert!(find_part("abc", "abcd").is_empty());
    }
}
