package onnx

import (
	"errors"
	"io"
)

var errClosed = errors.New("onnx: signature reader closed")

// SignatureReader passes a model's bytes through unchanged while ReadSignature parses them, so
// that a caller can hash, store and parse an upload in one pass over it:
//
//	h := sha256.New()
//	sr := onnx.NewSignatureReader(io.TeeReader(body, h))
//	defer sr.Close()
//	info, err := store.Put(ctx, key, sr, size, opts) // the store reads the upload...
//	sig, serr := sr.Signature()                       // ...and the parser saw the same bytes
//
// When the parser finds that the stream is not a valid model, Read returns the *FormatError at
// once, so the store aborts the upload instead of writing a file that is going to be refused.
//
// Read and Signature must be called from one goroutine at a time, or in sequence; Close may be
// called from any goroutine. The parser runs in a goroutine that exits when Signature or Close
// returns.
type SignatureReader struct {
	src  io.Reader
	pw   *io.PipeWriter
	pr   *io.PipeReader
	done chan struct{} // closed when the parser has returned
	sig  *Signature    // the parser's result, valid once done is closed
	err  error
}

// NewSignatureReader returns a reader of src's bytes that parses them with ReadSignature as they
// are read. The caller must call Signature or Close.
func NewSignatureReader(src io.Reader) *SignatureReader {
	pr, pw := io.Pipe()
	sr := &SignatureReader{src: src, pr: pr, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(sr.done)
		sr.sig, sr.err = ReadSignature(pr)
		// If the parser stopped early, a blocked or later Write now fails instead of waiting.
		pr.CloseWithError(sr.err)
	}()
	return sr
}

// Read reads from the source and hands the same bytes to the parser before returning them.
// It returns the parser's *FormatError as soon as the parser rejects the stream.
func (sr *SignatureReader) Read(p []byte) (int, error) {
	n, err := sr.src.Read(p)
	if n > 0 {
		if _, werr := sr.pw.Write(p[:n]); werr != nil {
			<-sr.done
			if sr.err != nil {
				return 0, sr.err
			}
			return 0, werr
		}
	}
	if err == io.EOF {
		sr.pw.Close()
	} else if err != nil {
		sr.pw.CloseWithError(err)
	}
	return n, err
}

// Signature returns the signature of the bytes read so far, which are expected to be the whole
// model: call it after Read has returned io.EOF. Called earlier, it ends the stream where it is,
// and the parser reports a truncated model.
func (sr *SignatureReader) Signature() (*Signature, error) {
	sr.pw.Close()
	<-sr.done
	return sr.sig, sr.err
}

// Close stops the parser if it is still running and waits for it. It always returns nil.
func (sr *SignatureReader) Close() error {
	sr.pw.CloseWithError(errClosed) // a no-op if the stream was already closed
	<-sr.done
	return nil
}
