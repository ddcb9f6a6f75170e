//! What the source-scanning tests share.

/// The code without comments, string and character literals (a `'"'`
/// would otherwise open a string).
pub fn strip(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A character literal ('x', '\n', '\''), or a lifetime,
                // which is left as it is.
                let mut ahead = chars.clone();
                let lit = match ahead.next() {
                    Some('\\') => {
                        ahead.next();
                        ahead.by_ref().take_while(|c| *c != '\'').count() < 8
                    }
                    Some(_) => ahead.next() == Some('\''),
                    None => false,
                };
                if lit {
                    chars = ahead;
                    out.push_str("' '");
                } else {
                    out.push(c);
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            c => out.push(c),
        }
    }
    out
}
