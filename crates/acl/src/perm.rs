//! Permission bits and the check Java's ACL 1.0 applies to them.

/// A permission as Java's `Permission` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perm(u8);

impl Perm {
    pub const DENY: Perm = Perm(1);
    /// Needed by requests that accept either PUB or SUB.
    pub const ANY: Perm = Perm(2);
    pub const PUB: Perm = Perm(4);
    pub const SUB: Perm = Perm(8);
    pub const PUB_SUB: Perm = Perm(12);

    /// Parses a perm string of the file.
    ///
    /// # Errors
    /// The accepted spellings, for a caller to name the field.
    pub fn parse(text: &str) -> Result<Perm, String> {
        match text {
            "DENY" => Ok(Perm::DENY),
            "PUB" => Ok(Perm::PUB),
            "SUB" => Ok(Perm::SUB),
            "PUB|SUB" | "SUB|PUB" => Ok(Perm::PUB_SUB),
            other => Err(format!("'{other}' is not one of DENY, PUB, SUB, PUB|SUB")),
        }
    }

    /// Whether owning `self` grants `needed`.
    pub fn grants(self, needed: Perm) -> bool {
        if self.0 & Perm::DENY.0 != 0 {
            return false;
        }
        if needed.0 & Perm::ANY.0 != 0 {
            return self.0 & Perm::PUB_SUB.0 != 0;
        }
        self.0 & needed.0 != 0
    }

    /// The name of a needed permission, for remarks.
    pub fn name(self) -> &'static str {
        match self {
            Perm::PUB => "PUB",
            Perm::SUB => "SUB",
            Perm::PUB_SUB => "PUB|SUB",
            Perm::ANY => "PUB or SUB",
            _ => "DENY",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_follow_the_bits() {
        assert!(Perm::PUB.grants(Perm::PUB));
        assert!(!Perm::PUB.grants(Perm::SUB));
        assert!(Perm::PUB_SUB.grants(Perm::SUB));
        assert!(Perm::SUB.grants(Perm::ANY));
        assert!(!Perm::DENY.grants(Perm::ANY));
        assert!(!Perm::DENY.grants(Perm::PUB));
        assert!(Perm::parse("ALL").is_err());
    }
}
