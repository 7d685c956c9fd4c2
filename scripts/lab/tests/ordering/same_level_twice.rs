// expect: error[E0277]: lock order violation: a `SemA` lock cannot be taken while holding `SemA`
// Two locks of one level, nested: lockdep's "possible recursive locking".
crate::lock_order!(SemA);

pub(crate) fn a_then_a(a1: &Ordered<(), SemA>, a2: &Ordered<(), SemA>, held: &mut Token<'_, Unlocked>) {
    let (_g1, mut t1) = a1.lock(held);
    let _g2 = a2.lock(&mut t1);
}
