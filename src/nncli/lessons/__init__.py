"""The course notes' lessons as nncli commands: what each runs, the numbers it reads from what
they wrote, and its explanation in English and Korean (`nncli lessons`, docs/tutorial.md and
docs/tutorial.ko.md)."""
