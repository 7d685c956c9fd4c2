// expect: error[E0277]: lock order violation: a `SemB` lock cannot be taken while holding `SemC`
// Taking a lower lock while a higher one is held, with no cycle in sight yet.
crate::lock_order!(SemA, SemB, SemC);

pub(crate) fn c_then_b(b: &Ordered<(), SemB>, c: &Ordered<(), SemC>, held: &mut Token<'_, Unlocked>) {
    let (_gc, mut tc) = c.lock(held);
    let _gb = b.lock(&mut tc);
}
