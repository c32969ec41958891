//! On-demand tokenizer for the selector grammar.
//!
//! The token rules follow RocketMQ's JavaCC grammar (`SelectorParser.jj`):
//! longest match, keywords case-insensitive and preferred over identifiers of
//! the same length, `0` never followed by more digits in an integer token.
//! Tokens are produced lazily because JavaCC lexes lazily too: a `--` with no
//! line break after it is not a comment there but two minus signs, and the
//! parser decides what a trailing one means.

use crate::error::FilterError;

/// Reserved words (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
}

impl Keyword {
    const ALL: [(Keyword, &'static str); 12] = [
        (Keyword::Not, "NOT"),
        (Keyword::And, "AND"),
        (Keyword::Or, "OR"),
        (Keyword::Between, "BETWEEN"),
        (Keyword::In, "IN"),
        (Keyword::True, "TRUE"),
        (Keyword::False, "FALSE"),
        (Keyword::Null, "NULL"),
        (Keyword::Is, "IS"),
        (Keyword::Contains, "CONTAINS"),
        (Keyword::StartsWith, "STARTSWITH"),
        (Keyword::EndsWith, "ENDSWITH"),
    ];

    fn lookup(word: &str) -> Option<Keyword> {
        Self::ALL
            .iter()
            .find(|(_, text)| text.eq_ignore_ascii_case(word))
            .map(|(kw, _)| *kw)
    }

    pub(crate) fn text(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(kw, _)| *kw == self)
            .map_or("?", |(_, text)| text)
    }
}

/// One token. Text-carrying tokens borrow the source, except string literals
/// whose `''` escapes are decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'s> {
    Eof,
    Ident(&'s str),
    Kw(Keyword),
    /// `0` or `[1-9][0-9]*` with an optional `l`/`L` suffix.
    Int(&'s str),
    /// Digits with a fraction and/or an exponent.
    Float(&'s str),
    Str(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
}

impl Tok<'_> {
    /// How an error message names this token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Eof => "end of input".to_owned(),
            Tok::Ident(name) => format!("identifier '{name}'"),
            Tok::Kw(kw) => format!("keyword {}", kw.text()),
            Tok::Int(text) | Tok::Float(text) => format!("number {text}"),
            Tok::Str(s) => format!("string '{}'", s.replace('\'', "''")),
            Tok::Eq => "'='".to_owned(),
            Tok::Ne => "'<>'".to_owned(),
            Tok::Gt => "'>'".to_owned(),
            Tok::Ge => "'>='".to_owned(),
            Tok::Lt => "'<'".to_owned(),
            Tok::Le => "'<='".to_owned(),
            Tok::LParen => "'('".to_owned(),
            Tok::RParen => "')'".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::Plus => "'+'".to_owned(),
            Tok::Minus => "'-'".to_owned(),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'s> {
    pub(crate) tok: Tok<'s>,
    pub(crate) start: usize,
}

pub(crate) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    peeked: Option<Token<'s>>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_part(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

impl<'s> Lexer<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        Lexer {
            src,
            pos: 0,
            peeked: None,
        }
    }

    /// The 1-based character position of a byte offset.
    pub(crate) fn position(&self, byte: usize) -> usize {
        self.src.get(..byte).map_or(byte, |s| s.chars().count()) + 1
    }

    pub(crate) fn syntax_error(&self, byte: usize, message: impl Into<String>) -> FilterError {
        FilterError::Syntax {
            position: self.position(byte),
            message: message.into(),
        }
    }

    pub(crate) fn peek(&mut self) -> Result<&Token<'s>, FilterError> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lex()?,
        };
        Ok(self.peeked.insert(token))
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'s>, FilterError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    /// True when the text from `byte` on is `--` with no line break after it.
    /// JavaCC lexes that as two minus signs and then stops parsing, ignoring
    /// the rest; we accept it as a trailing comment.
    pub(crate) fn is_trailing_line_comment(&self, byte: usize) -> bool {
        self.src
            .get(byte..)
            .is_some_and(|rest| rest.starts_with("--") && !rest.contains(['\n', '\r']))
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// Skips whitespace and comments; fails on an unterminated block comment.
    fn skip_trivia(&mut self) -> Result<(), FilterError> {
        loop {
            let rest = self.src.get(self.pos..).unwrap_or("");
            if let Some(b) = self.byte(self.pos) {
                if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
                    self.pos += 1;
                    continue;
                }
            }
            if rest.starts_with("--") {
                // A line comment needs its line break; without one these are minus signs.
                match rest.find(['\n', '\r']) {
                    Some(end) => {
                        self.pos += end + 1;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            if rest.starts_with("/*") {
                match rest.get(2..).and_then(|body| body.find("*/")) {
                    Some(end) => {
                        self.pos += 2 + end + 2;
                        continue;
                    }
                    None => return Err(self.syntax_error(self.pos, "unterminated /* comment")),
                }
            }
            return Ok(());
        }
    }

    fn lex(&mut self) -> Result<Token<'s>, FilterError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(b) = self.byte(start) else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
            });
        };
        let tok = match b {
            b'\'' => self.string(start)?,
            b'0'..=b'9' => self.number(start),
            b'.' if self.byte(start + 1).is_some_and(|d| d.is_ascii_digit()) => self.number(start),
            _ if is_ident_start(b) => {
                let end = self.scan_while(start + 1, is_ident_part);
                self.pos = end;
                let word = self.src.get(start..end).unwrap_or("");
                Keyword::lookup(word).map_or(Tok::Ident(word), Tok::Kw)
            }
            _ => self.operator(start)?,
        };
        Ok(Token { tok, start })
    }

    fn scan_while(&self, mut at: usize, pred: fn(u8) -> bool) -> usize {
        while self.byte(at).is_some_and(pred) {
            at += 1;
        }
        at
    }

    fn operator(&mut self, start: usize) -> Result<Tok<'s>, FilterError> {
        let next = self.byte(start + 1);
        let (tok, len) = match self.byte(start).unwrap_or(0) {
            b'=' => (Tok::Eq, 1),
            b'<' if next == Some(b'>') => (Tok::Ne, 2),
            b'<' if next == Some(b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if next == Some(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            _ => {
                let c = self
                    .src
                    .get(start..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                return Err(self.syntax_error(start, format!("unexpected character {c:?}")));
            }
        };
        self.pos = start + len;
        Ok(tok)
    }

    /// A quoted string; `''` inside stands for one quote.
    fn string(&mut self, start: usize) -> Result<Tok<'s>, FilterError> {
        let mut value = String::new();
        let mut at = start + 1;
        loop {
            let Some(rel) = self.src.get(at..).and_then(|s| s.find('\'')) else {
                return Err(self.syntax_error(start, "unterminated string literal"));
            };
            value.push_str(self.src.get(at..at + rel).unwrap_or(""));
            at += rel + 1;
            if self.byte(at) == Some(b'\'') {
                value.push('\'');
                at += 1;
            } else {
                self.pos = at;
                return Ok(Tok::Str(value));
            }
        }
    }

    /// Length of an exponent (`e`, optional sign, digits) at `at`, or 0.
    fn exponent_len(&self, at: usize) -> usize {
        if !matches!(self.byte(at), Some(b'e' | b'E')) {
            return 0;
        }
        let digits_from = if matches!(self.byte(at + 1), Some(b'+' | b'-')) {
            at + 2
        } else {
            at + 1
        };
        let end = self.scan_while(digits_from, |b| b.is_ascii_digit());
        if end > digits_from {
            end - at
        } else {
            0
        }
    }

    fn number(&mut self, start: usize) -> Tok<'s> {
        let int_end = self.scan_while(start, |b| b.is_ascii_digit());
        let (end, float) = if self.byte(int_end) == Some(b'.') {
            let frac_end = self.scan_while(int_end + 1, |b| b.is_ascii_digit());
            (frac_end + self.exponent_len(frac_end), true)
        } else {
            match self.exponent_len(int_end) {
                0 => (int_end, false),
                exp => (int_end + exp, true),
            }
        };
        let end = if float {
            end
        } else if self.byte(start) == Some(b'0') {
            // The grammar's integer is "0" | [1-9][0-9]*[lL]?: "007" is three tokens.
            start + 1
        } else if matches!(self.byte(int_end), Some(b'l' | b'L')) {
            int_end + 1
        } else {
            int_end
        };
        self.pos = end;
        let text = self.src.get(start..end).unwrap_or("");
        if float {
            Tok::Float(text)
        } else {
            Tok::Int(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Tok<'_>> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().unwrap();
            if token.tok == Tok::Eof {
                return out;
            }
            out.push(token.tok);
        }
    }

    #[test]
    fn numbers_follow_the_javacc_token_rules() {
        assert_eq!(
            tokens("007"),
            vec![Tok::Int("0"), Tok::Int("0"), Tok::Int("7")]
        );
        assert_eq!(tokens("0L"), vec![Tok::Int("0"), Tok::Ident("L")]);
        assert_eq!(tokens("12l"), vec![Tok::Int("12l")]);
        assert_eq!(tokens("1e"), vec![Tok::Int("1"), Tok::Ident("e")]);
        assert_eq!(
            tokens("1E+5 5. .5 05.5"),
            vec![
                Tok::Float("1E+5"),
                Tok::Float("5."),
                Tok::Float(".5"),
                Tok::Float("05.5")
            ]
        );
        assert_eq!(tokens("1.5L"), vec![Tok::Float("1.5"), Tok::Ident("L")]);
        assert_eq!(tokens("1and"), vec![Tok::Int("1"), Tok::Kw(Keyword::And)]);
    }

    #[test]
    fn comments_and_operators() {
        assert_eq!(
            tokens("a<>b -- x\n<=/* y */>= --z"),
            vec![
                Tok::Ident("a"),
                Tok::Ne,
                Tok::Ident("b"),
                Tok::Le,
                Tok::Ge,
                Tok::Minus,
                Tok::Minus,
                Tok::Ident("z"),
            ]
        );
        assert_eq!(
            tokens("'it''s' nOt"),
            vec![Tok::Str("it's".into()), Tok::Kw(Keyword::Not)]
        );
    }

    #[test]
    fn lexical_errors_name_the_position() {
        let mut l = Lexer::new("a = 'é");
        l.next_token().unwrap();
        l.next_token().unwrap();
        assert_eq!(
            l.next_token().unwrap_err().to_string(),
            "syntax error at position 5: unterminated string literal"
        );
        let mut l = Lexer::new("é # x");
        assert_eq!(
            l.next_token().unwrap_err().to_string(),
            "syntax error at position 1: unexpected character 'é'"
        );
        let mut l = Lexer::new("  /* never closed");
        assert_eq!(
            l.next_token().unwrap_err().to_string(),
            "syntax error at position 3: unterminated /* comment"
        );
    }
}
