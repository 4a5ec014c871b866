//! Named numbers that clients need as well as the server, listed where they are defined.
//!
//! [`named_constants!`] defines ordinary `pub const`s and, beside them, a list of every
//! one by name, so the TypeScript `constants.ts` is generated from the definitions
//! themselves: a constant added to such a block reaches the UI without a second list.

/// One constant as the generated TypeScript sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedConstant {
    pub name: &'static str,
    pub value: u64,
    /// The constant's doc comment, one line per source line (may be empty).
    pub doc: &'static str,
}

/// `named_constants! { LIST; /// doc \n pub const NAME: type = value; ... }` defines each
/// constant and `pub const LIST: &[NamedConstant]` naming them all, in order.
macro_rules! named_constants {
    ($list:ident; $( $(#[doc = $doc:literal])* pub const $name:ident: $ty:ty = $value:expr; )*) => {
        $( $(#[doc = $doc])* pub const $name: $ty = $value; )*

        /// Every constant defined above, for the generated TypeScript.
        pub const $list: &[$crate::constant::NamedConstant] = &[$(
            $crate::constant::NamedConstant {
                name: stringify!($name),
                value: $name as u64,
                doc: concat!($($doc, "\n",)*),
            },
        )*];
    };
}

pub(crate) use named_constants;
