package blobstore

// SetMaxServerCopySize lowers the size above which Move streams an object
// instead of copying it on the server, and returns a function that restores
// it.
func SetMaxServerCopySize(n int64) (restore func()) {
	old := maxServerCopySize
	maxServerCopySize = n
	return func() { maxServerCopySize = old }
}
