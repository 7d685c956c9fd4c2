// expect: error[E0277]: lock order violation: a `SemA` lock cannot be taken while holding `SemC`
// A cycle through three locks: A then B, B then C, C then A. Only the last closes the cycle.
crate::lock_order!(SemA, SemB, SemC);

pub(crate) fn a_then_b(a: &Ordered<(), SemA>, b: &Ordered<(), SemB>, held: &mut Token<'_, Unlocked>) {
    let (_ga, mut ta) = a.lock(held);
    let _gb = b.lock(&mut ta);
}

pub(crate) fn b_then_c(b: &Ordered<(), SemB>, c: &Ordered<(), SemC>, held: &mut Token<'_, Unlocked>) {
    let (_gb, mut tb) = b.lock(held);
    let _gc = c.lock(&mut tb);
}

pub(crate) fn c_then_a(c: &Ordered<(), SemC>, a: &Ordered<(), SemA>, held: &mut Token<'_, Unlocked>) {
    let (_gc, mut tc) = c.lock(held);
    let _ga = a.lock(&mut tc);
}
