"""Tools run by make run, compose and the image's local stage: the Google emulator, the mail
catcher, the benchmarks and the screenshot maker. Tests use them; they are not tests."""
