// Package ptytest drives terminal programs from Go tests as a user would:
// Start runs a program in a pseudo-terminal (github.com/creack/pty), Type
// sends keys, and a small terminal emulator (Screen) turns the program's
// output into the lines a user would see, so tests assert the screen rather
// than escape sequences. It is test machinery shared by the shell's tests
// and the tetra command's.
package ptytest
