//! The predicate language of stage rules, touchpoints, channel rules and
//! personas: `properties.rating >= 4`, `survey = 'nps' and score >= 9`,
//! `url ~ '*/checkout/shipping*'`, `traits.plan = 'pro' or first_channel = 'Email'`.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | field [op value]
//! op      := = | == | != | > | >= | < | <= | ~ (glob) | !~ | contains
//! value   := number | 'text' | "text" | true | false | null | bareword
//! field   := name ("." name)*         e.g. score, properties.rating, traits.plan
//! ```
//! A field alone is true when it is present and not false/0/empty. Comparison
//! is numeric when both sides are numbers (a text field holding a number
//! counts), otherwise textual; a missing field compares unequal to everything
//! and fails every ordering.

use std::borrow::Cow;
use std::fmt;

/// A value a field can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
}

impl Value<'_> {
    fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Null => None,
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0,
            Value::Str(s) => !s.is_empty(),
        }
    }

    fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Num(n) => Cow::Owned(format_num(*n)),
            Value::Str(s) => Cow::Borrowed(s),
        }
    }

    /// Converts a JSON value (a property or trait) into a predicate value.
    pub fn from_json(v: &serde_json::Value) -> Value<'static> {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Num),
            serde_json::Value::String(s) => Value::Str(Cow::Owned(s.clone())),
            other => Value::Str(Cow::Owned(other.to_string())),
        }
    }
}

fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// A field a predicate can read. Well-known fields are resolved once, at
/// parse time, so evaluation does not compare names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    Event,
    Kind,
    Channel,
    Source,
    Medium,
    Campaign,
    Url,
    Referrer,
    Revenue,
    Score,
    Survey,
    Text,
    /// 1 for the customer's first `Order Completed`, 2 for the second…
    NthPurchase,
    /// `properties.<path>`
    Property(String),
    /// `traits.<path>` (identify traits, last value wins)
    Trait(String),
    /// Any other name; the evaluator decides (customer facts such as
    /// `first_channel`, `orders`, `revenue_total`, `stage`).
    Other(String),
}

impl Field {
    fn parse(name: &str) -> Field {
        if let Some(p) = name.strip_prefix("properties.") {
            return Field::Property(p.to_string());
        }
        if let Some(p) = name.strip_prefix("traits.") {
            return Field::Trait(p.to_string());
        }
        match name {
            "event" => Field::Event,
            "kind" | "type" => Field::Kind,
            "channel" => Field::Channel,
            "source" => Field::Source,
            "medium" => Field::Medium,
            "campaign" => Field::Campaign,
            "url" => Field::Url,
            "referrer" => Field::Referrer,
            "revenue" => Field::Revenue,
            "score" => Field::Score,
            "survey" => Field::Survey,
            "text" => Field::Text,
            "nth_purchase" => Field::NthPurchase,
            other => Field::Other(other.to_string()),
        }
    }

    pub fn name(&self) -> Cow<'_, str> {
        match self {
            Field::Event => "event".into(),
            Field::Kind => "kind".into(),
            Field::Channel => "channel".into(),
            Field::Source => "source".into(),
            Field::Medium => "medium".into(),
            Field::Campaign => "campaign".into(),
            Field::Url => "url".into(),
            Field::Referrer => "referrer".into(),
            Field::Revenue => "revenue".into(),
            Field::Score => "score".into(),
            Field::Survey => "survey".into(),
            Field::Text => "text".into(),
            Field::NthPurchase => "nth_purchase".into(),
            Field::Property(p) => format!("properties.{p}").into(),
            Field::Trait(p) => format!("traits.{p}").into(),
            Field::Other(o) => o.as_str().into(),
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Glob,
    NotGlob,
    Contains,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Glob => "~",
            Op::NotGlob => "!~",
            Op::Contains => "contains",
        }
    }
}

/// A parsed predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    True,
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    Present(Field),
    Cmp(Field, Op, Value<'static>),
}

/// Where a predicate reads its fields from.
pub trait Facts {
    fn get(&self, field: &Field) -> Value<'_>;
}

impl Predicate {
    /// Parses the predicate language; the error says where and what was expected.
    pub fn parse(src: &str) -> Result<Predicate, String> {
        let tokens = lex(src)?;
        if tokens.is_empty() {
            return Ok(Predicate::True);
        }
        let mut p = Parser { tokens, pos: 0 };
        let e = p.expr()?;
        if p.pos < p.tokens.len() {
            return Err(format!("unexpected '{}' after a complete condition in '{src}'", p.tokens[p.pos]));
        }
        Ok(e)
    }

    pub fn eval(&self, facts: &dyn Facts) -> bool {
        match self {
            Predicate::True => true,
            Predicate::And(ps) => ps.iter().all(|p| p.eval(facts)),
            Predicate::Or(ps) => ps.iter().any(|p| p.eval(facts)),
            Predicate::Not(p) => !p.eval(facts),
            Predicate::Present(f) => facts.get(f).truthy(),
            Predicate::Cmp(f, op, v) => compare(&facts.get(f), *op, v),
        }
    }

    /// Every field the predicate reads.
    pub fn fields(&self) -> Vec<&Field> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a Field>) {
        match self {
            Predicate::True => {}
            Predicate::And(ps) | Predicate::Or(ps) => ps.iter().for_each(|p| p.collect_fields(out)),
            Predicate::Not(p) => p.collect_fields(out),
            Predicate::Present(f) | Predicate::Cmp(f, _, _) => out.push(f),
        }
    }
}

fn compare(left: &Value<'_>, op: Op, right: &Value<'_>) -> bool {
    if matches!(left, Value::Null) {
        return match op {
            Op::Ne | Op::NotGlob => !matches!(right, Value::Null),
            Op::Eq => matches!(right, Value::Null),
            _ => false,
        };
    }
    match op {
        Op::Glob => crate::glob::glob_match(&right.text(), &left.text()),
        Op::NotGlob => !crate::glob::glob_match(&right.text(), &left.text()),
        Op::Contains => left.text().contains(right.text().as_ref()),
        _ => {
            let ord = match (left.as_num(), right.as_num()) {
                (Some(a), Some(b)) if !matches!(right, Value::Str(_)) || !matches!(left, Value::Str(_)) => {
                    a.partial_cmp(&b)
                }
                _ => Some(left.text().as_ref().cmp(right.text().as_ref())),
            };
            let Some(ord) = ord else { return false };
            use std::cmp::Ordering::*;
            match op {
                Op::Eq => ord == Equal,
                Op::Ne => ord != Equal,
                Op::Gt => ord == Greater,
                Op::Ge => ord != Less,
                Op::Lt => ord == Less,
                Op::Le => ord != Greater,
                _ => false,
            }
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::True => write!(f, "true"),
            Predicate::And(ps) => join(f, ps, " and "),
            Predicate::Or(ps) => join(f, ps, " or "),
            Predicate::Not(p) => write!(f, "not ({p})"),
            Predicate::Present(field) => write!(f, "{}", field.name()),
            Predicate::Cmp(field, op, v) => match v {
                Value::Str(s) => write!(f, "{} {} '{}'", field.name(), op.as_str(), s.replace('\'', "\\'")),
                other => write!(f, "{} {} {}", field.name(), op.as_str(), other.text()),
            },
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, ps: &[Predicate], sep: &str) -> fmt::Result {
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        match p {
            Predicate::And(_) | Predicate::Or(_) => write!(f, "({p})")?,
            _ => write!(f, "{p}")?,
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "{s}"),
            Token::Str(s) => write!(f, "'{s}'"),
            Token::Num(n) => write!(f, "{n}"),
            Token::Op(o) => write!(f, "{}", o.as_str()),
            Token::LParen => write!(f, "("),
            Token::RParen => write!(f, ")"),
        }
    }
}

fn lex(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Token::LParen);
                i += 1;
            }
            ')' => {
                out.push(Token::RParen);
                i += 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string in '{src}'")),
                        Some('\\') if chars.get(i + 1).is_some() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Str(s));
            }
            '=' | '!' | '<' | '>' | '~' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (Op::Eq, 2),
                    ('=', _) => (Op::Eq, 1),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('!', Some('~')) => (Op::NotGlob, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('>', _) => (Op::Gt, 1),
                    ('~', _) => (Op::Glob, 1),
                    _ => return Err(format!("unexpected '{c}' in '{src}'")),
                };
                out.push(Token::Op(op));
                i += len;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == 'e') {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let n = s.parse().map_err(|_| format!("'{s}' is not a number in '{src}'"))?;
                out.push(Token::Num(n));
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '$' | '-')) {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                if s.eq_ignore_ascii_case("contains") {
                    out.push(Token::Op(Op::Contains));
                } else {
                    out.push(Token::Ident(s));
                }
            }
            other => return Err(format!("unexpected character '{other}' in '{src}'")),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn expr(&mut self) -> Result<Predicate, String> {
        let mut parts = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Predicate::Or(parts) })
    }

    fn and(&mut self) -> Result<Predicate, String> {
        let mut parts = vec![self.unary()?];
        while self.keyword("and") {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Predicate::And(parts) })
    }

    fn unary(&mut self) -> Result<Predicate, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Predicate::Not(Box::new(self.unary()?)));
        }
        match self.peek().cloned() {
            Some(Token::LParen) => {
                self.pos += 1;
                let e = self.expr()?;
                if self.peek() != Some(&Token::RParen) {
                    return Err("expected ')'".to_string());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Token::Ident(name)) => {
                self.pos += 1;
                let field = Field::parse(&name);
                let Some(Token::Op(op)) = self.peek().cloned() else {
                    return Ok(Predicate::Present(field));
                };
                self.pos += 1;
                let value = match self.peek().cloned() {
                    Some(Token::Num(n)) => Value::Num(n),
                    Some(Token::Str(s)) => Value::Str(Cow::Owned(s)),
                    Some(Token::Ident(s)) => match s.as_str() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        "null" => Value::Null,
                        _ => Value::Str(Cow::Owned(s)),
                    },
                    Some(other) => {
                        return Err(format!("expected a value after '{}', found '{other}'", op.as_str()));
                    }
                    None => return Err(format!("expected a value after '{}'", op.as_str())),
                };
                self.pos += 1;
                Ok(Predicate::Cmp(field, op, value))
            }
            Some(other) => Err(format!("expected a field name, found '{other}'")),
            None => Err("expected a condition".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<String, Value<'static>>);
    impl Facts for Map {
        fn get(&self, field: &Field) -> Value<'_> {
            self.0.get(field.name().as_ref()).cloned().unwrap_or(Value::Null)
        }
    }

    fn facts(pairs: &[(&str, Value<'static>)]) -> Map {
        Map(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn parses_and_evaluates() {
        let p = Predicate::parse("survey = nps and score >= 9").unwrap();
        assert!(p.eval(&facts(&[("survey", Value::Str("nps".into())), ("score", Value::Num(9.0))])));
        assert!(!p.eval(&facts(&[("survey", Value::Str("nps".into())), ("score", Value::Num(8.0))])));
        assert!(!p.eval(&facts(&[("survey", Value::Str("csat".into())), ("score", Value::Num(10.0))])));

        let p = Predicate::parse("properties.rating >= 4").unwrap();
        assert!(p.eval(&facts(&[("properties.rating", Value::Str("5".into()))])));
        assert!(!p.eval(&facts(&[])));

        let p = Predicate::parse("url ~ '*/checkout/shipping*' or (channel = 'Phone' and not text)").unwrap();
        assert!(p.eval(&facts(&[("url", Value::Str("https://x/checkout/shipping?a".into()))])));
        assert!(p.eval(&facts(&[("channel", Value::Str("Phone".into()))])));
        assert!(!p.eval(&facts(&[("channel", Value::Str("Phone".into())), ("text", Value::Str("hi".into()))])));
        assert_eq!(p.to_string(), "url ~ '*/checkout/shipping*' or (channel = 'Phone' and not (text))");
    }

    #[test]
    fn missing_fields_and_errors() {
        let p = Predicate::parse("traits.plan != 'pro'").unwrap();
        assert!(p.eval(&facts(&[])));
        assert!(Predicate::parse("score >=").is_err());
        assert!(Predicate::parse("score >= 4 5").is_err());
        assert!(Predicate::parse("'oops").is_err());
        assert_eq!(Predicate::parse("  ").unwrap(), Predicate::True);
        assert_eq!(
            Predicate::parse("nth_purchase >= 2").unwrap(),
            Predicate::Cmp(Field::NthPurchase, Op::Ge, Value::Num(2.0))
        );
    }

    #[test]
    fn text_versus_number_comparison() {
        // Text compared with text stays textual ('10' < '9' would be wrong numerically).
        let p = Predicate::parse("traits.code = '007'").unwrap();
        assert!(p.eval(&facts(&[("traits.code", Value::Str("007".into()))])));
        let p = Predicate::parse("traits.age > 30").unwrap();
        assert!(p.eval(&facts(&[("traits.age", Value::Str("42".into()))])));
    }
}
