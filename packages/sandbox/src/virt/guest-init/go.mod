module breakfix.dev/sandbox/guest-init

go 1.22
