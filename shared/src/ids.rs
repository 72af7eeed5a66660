//! Identifier generation: a type prefix plus a time-ordered UUIDv7 in base32.

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new id such as `ses_06c1q3...`: sorts by creation time, unique across restarts.
pub fn new_id(prefix: &str) -> String {
    let v = uuid::Uuid::now_v7().as_u128();
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    // 26 base32 digits cover 130 bits; the top two are always zero.
    for i in (0..26).rev() {
        let digit = ((v >> (i * 5)) & 31) as usize;
        out.push(ALPHABET[digit] as char);
    }
    out
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_ordered() {
        let a = new_id("ses");
        let b = new_id("ses");
        assert!(a.starts_with("ses_"));
        assert_eq!(a.len(), 30);
        assert_ne!(a, b);
        assert!(a < b, "{a} < {b}");
    }
}
