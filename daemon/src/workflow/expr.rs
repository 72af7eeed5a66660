//! The condition language of `when` and `loop.until`: `==`, `!=`, `&&`, `||`, `!`,
//! parentheses, literals (`true`, `false`, `null`, numbers, quoted strings) and paths into the
//! run (`nodes.review.json.approve`, `input`, `item`). Small enough that a general expression
//! crate would bring more syntax than it takes away; parsed once, evaluated over JSON.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Value),
    Path(Vec<String>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    Ne(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Op(&'static str),
}

fn tokens(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' | ')' => {
                out.push(Tok::Op(if c == '(' { "(" } else { ")" }));
                i += 1;
            }
            _ if ["==", "!=", "&&", "||"].contains(&two.as_str()) => {
                out.push(Tok::Op(match two.as_str() {
                    "==" => "==",
                    "!=" => "!=",
                    "&&" => "&&",
                    _ => "||",
                }));
                i += 2;
            }
            '!' => {
                out.push(Tok::Op("!"));
                i += 1;
            }
            '"' | '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|x| *x == c)
                    .ok_or_else(|| format!("a string started at {i} does not end"))?;
                out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            _ if c.is_ascii_digit() || c == '-' => {
                let len = chars[i..]
                    .iter()
                    .skip(1)
                    .take_while(|x| x.is_ascii_digit() || **x == '.')
                    .count()
                    + 1;
                let text: String = chars[i..i + len].iter().collect();
                out.push(Tok::Num(
                    text.parse()
                        .map_err(|_| format!("{text:?} is not a number"))?,
                ));
                i += len;
            }
            _ if c.is_alphanumeric() || c == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|x| x.is_alphanumeric() || matches!(x, '_' | '.' | '-'))
                    .count();
                out.push(Tok::Word(chars[i..i + len].iter().collect()));
                i += len;
            }
            _ => return Err(format!("unexpected {c:?} at {i}")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    /// Nesting so far (parentheses, `!`, chained `&&`/`||`): bounded, so no input can take
    /// the stack.
    depth: usize,
}

/// Longest condition, and deepest nesting, taken.
const MAX_LEN: usize = 4096;
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn eat(&mut self, op: &str) -> bool {
        if self.peek()
            == Some(&Tok::Op(match op {
                "||" => "||",
                "&&" => "&&",
                "==" => "==",
                "!=" => "!=",
                "!" => "!",
                "(" => "(",
                _ => ")",
            }))
        {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.eat("||") {
            self.deeper()?;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        while self.eat("&&") {
            self.deeper()?;
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("!") {
            self.deeper()?;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let left = self.primary()?;
        if self.eat("==") {
            return Ok(Expr::Eq(Box::new(left), Box::new(self.primary()?)));
        }
        if self.eat("!=") {
            return Ok(Expr::Ne(Box::new(left), Box::new(self.primary()?)));
        }
        Ok(left)
    }
    fn primary(&mut self) -> Result<Expr, String> {
        if self.eat("(") {
            self.deeper()?;
            let e = self.or()?;
            if !self.eat(")") {
                return Err("a `(` is not closed".into());
            }
            return Ok(e);
        }
        let t = self.peek().cloned();
        self.at += 1;
        match t {
            Some(Tok::Str(s)) => Ok(Expr::Lit(Value::String(s))),
            Some(Tok::Num(n)) => Ok(Expr::Lit(
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
            )),
            Some(Tok::Word(w)) => Ok(match w.as_str() {
                "true" => Expr::Lit(Value::Bool(true)),
                "false" => Expr::Lit(Value::Bool(false)),
                "null" => Expr::Lit(Value::Null),
                _ => Expr::Path(w.split('.').map(str::to_string).collect()),
            }),
            Some(Tok::Op(op)) => Err(format!("unexpected `{op}`")),
            None => Err("the expression ends too soon".into()),
        }
    }
}

pub fn parse(s: &str) -> Result<Expr, String> {
    if s.len() > MAX_LEN {
        return Err(format!("longer than {MAX_LEN} characters"));
    }
    let mut p = Parser {
        toks: tokens(s)?,
        at: 0,
        depth: 0,
    };
    let e = p.or()?;
    if p.at < p.toks.len() {
        return Err(format!(
            "unexpected {:?} after the expression",
            p.toks[p.at]
        ));
    }
    Ok(e)
}

impl Expr {
    /// Every path the expression reads.
    pub fn paths(&self) -> Vec<&[String]> {
        match self {
            Expr::Lit(_) => Vec::new(),
            Expr::Path(p) => vec![p.as_slice()],
            Expr::Not(e) => e.paths(),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Eq(a, b) | Expr::Ne(a, b) => {
                let mut v = a.paths();
                v.extend(b.paths());
                v
            }
        }
    }

    /// The value over `ctx` (a path that leads nowhere is null).
    pub fn eval(&self, ctx: &Value) -> Value {
        match self {
            Expr::Lit(v) => v.clone(),
            Expr::Path(p) => p
                .iter()
                .try_fold(ctx, |v, k| match v {
                    Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => v.get(k),
                })
                .cloned()
                .unwrap_or(Value::Null),
            Expr::Not(e) => Value::Bool(!truthy(&e.eval(ctx))),
            Expr::And(a, b) => Value::Bool(truthy(&a.eval(ctx)) && truthy(&b.eval(ctx))),
            Expr::Or(a, b) => Value::Bool(truthy(&a.eval(ctx)) || truthy(&b.eval(ctx))),
            Expr::Eq(a, b) => Value::Bool(same(&a.eval(ctx), &b.eval(ctx))),
            Expr::Ne(a, b) => Value::Bool(!same(&a.eval(ctx), &b.eval(ctx))),
        }
    }

    pub fn holds(&self, ctx: &Value) -> bool {
        truthy(&self.eval(ctx))
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// JSON equality, numbers by value (`1 == 1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse_and_hold_over_the_run() {
        let ctx =
            json!({"nodes": {"review": {"json": {"approve": false, "score": 3, "tags": ["a"]}}}});
        let holds = |s: &str| parse(s).unwrap().holds(&ctx);
        assert!(holds("nodes.review.json.approve == false"));
        assert!(!holds("nodes.review.json.approve == true"));
        assert!(holds(
            "!nodes.review.json.approve && nodes.review.json.score == 3"
        ));
        assert!(holds(
            "(nodes.review.json.score != 3) || nodes.review.json.tags.0 == 'a'"
        ));
        assert!(holds("nodes.missing.json.x == null"));
        assert!(holds("nodes.review.json.score == 3.0"));
        assert_eq!(parse("!a && (b || c == \"x\")").unwrap().paths().len(), 3);
        for bad in ["", "a ==", "(a", "a b", "a = b", "'open"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // Deep nesting is refused, not a stack overflow.
        assert!(parse(&"(".repeat(2000)).is_err());
        assert!(parse(&"!".repeat(2000)).is_err());
        assert!(parse(&vec!["a"; 1000].join(" && ")).is_err());
        assert!(parse(&"a ".repeat(3000)).is_err());
    }
}
