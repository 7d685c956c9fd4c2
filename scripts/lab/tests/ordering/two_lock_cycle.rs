// expect: error[E0277]: lock order violation: a `SemA` lock cannot be taken while holding `SemB`
// AB-BA: sem_b, then sem_a, against the declared order SemA < SemB.
crate::lock_order!(SemA, SemB);

pub(crate) fn b_then_a(a: &Ordered<(), SemA>, b: &Ordered<(), SemB>, held: &mut Token<'_, Unlocked>) {
    let (_gb, mut tb) = b.lock(held);
    let _ga = a.lock(&mut tb);
}
