// boltref: the reference tool the bbolt verifier is tested against. It links Debian's bbolt 1.3.6
// (the library skopeo 1.9.3 is built with), so its verdict is what skopeo itself would meet.
//
// Build (GOPATH mode, no network):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off go build -o test/.build/boltref ./test/boltref
//
// Subcommands are described in usageText below.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand"
	"os"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

const usageText = `usage: boltref <subcommand> [flags]

  build -out PATH [-seed N] [-images N] [-blobs N] [-page-size N] [-target-mb N]
        [-large-values N] [-delete-every N] [-batch N] [-fill F] [-trim] [-order O]
      Create a new database in containers/image's blob-info-cache bucket layout
      (uncompressedDigest, digestByUncompressed/<uncompressed>/<digest>,
      knownLocations/<transport>/<scope>/<digest>/<location> = time.MarshalBinary,
      digestCompressor, digestSpecificVariantCompressor). The content is deterministic from
      -seed; the page placement is not (bbolt 1.3.6 spills sub-buckets in Go map order).
        -images N        images to record (default 20); each has -blobs layers (default 4)
        -target-mb N     instead of -images: add images until the high-water mark reaches N MiB
        -page-size N     bbolt page size (default: the OS page size)
        -large-values N  values of 6..40 KiB (variant annotations) -> overflow pages (default 2)
        -delete-every N  after each batch, delete every Nth image's records (free pages; default 7, 0 = none)
        -batch N         images per transaction (default 2000)
        -fill F          bucket FillPercent (default 0.5 = bbolt's default)
        -trim            truncate the file to the high-water mark (small fixtures)
        -order O         random | append | auto (default: append with -target-mb, else random).
                         In append order every new digest sorts after the last, so a big
                         build adds pages instead of rewriting the tree in every transaction.
      Prints one JSON line: {"path","bytes","usedBytes","pageSize","images","blobs","txs","seconds"}
      (usedBytes = high-water mark x page size; bbolt grows the file ahead of it unless -trim).
      Fails if PATH exists.

  write-loop -db PATH [-iterations N] [-duration D] [-seed N] [-blobs N] [-interval D]
      Behave like containers/image's BoltDB writer: each iteration bolt.Open(PATH, 0600, nil)
      (exclusive flock, waits forever), one db.Update recording -blobs (default 3) new blobs
      (digest pair, compressor, a known location), Close. Stops after -iterations
      (default 100) or when -duration (e.g. 5s) has elapsed, whichever first; a value of 0
      disables that limit. -interval (e.g. 1s) waits that long between iterations (a build
      host's pace) instead of committing back to back. Prints {"iterations":N,"seconds":S}.

  churn -db PATH [-txs N] [-per-tx N] [-seed N]
      Age a database the way years of c/image use do: -txs small transactions (default 20000),
      each deleting the records of -per-tx existing blobs (default 4; the first digest at or
      after a random one, from uncompressedDigest, digestCompressor and knownLocations) and
      recording -per-tx new blobs with random digests. Each commit rewrites the touched leaves
      and branches into the lowest free pages, so after many rounds the tree's pages lie in
      no order in the file (what the page walk meets on a long-lived cache; a build in append
      order lays pages out nearly in walk order). Same seed, same keys; the page placement
      varies (hashmap freelist). Prints {"path","bytes","txs","deleted","seconds"}.

  check [-lock-timeout D] [-lookups] [-check-only] PATH
      The reference verdict. Never creates or writes the file (stat first, open read-only).
      Runs tx.Check() collecting every error (stops listening after 10000: a page cycle makes
      bbolt's check loop forever), then reads every bucket recursively (nested and
      inline) through cursors, touching every key and value byte and verifying that keys are
      strictly increasing within each bucket (gives up with an error after more entries than
      the file could hold, file size / 16). Prints ONE JSON object and exits 0:
        {"open":"ok"|"<error>","checkErrors":[...],"checkErrorCount":N,"fullRead":"ok"|"<error>",
         "keys":N,"buckets":N,"orderViolations":[...],"lookupMisses":[...],"txid":N,"pageSize":N}
      While running it also writes "boltref: check-error: <msg>" lines to stderr, so a caller
      still learns the check errors when a later panic or fault kills the process.
      -lock-timeout: how long to wait for the shared flock (default 0 = forever, like c/image).
      -check-only: tx.Check() alone, no full read (the timing baseline of bbolt's own checker).
      -lookups: also Get every key and require its value back ("lookupMisses"); catches branch
      separator keys that misroute lookups, which neither bbolt 1.3.6's check nor a cursor
      walk sees. Off by default: it roughly doubles the read work.

  layout PATH
      Parse the file without bbolt (healthy files only; used to aim damage at exact bytes) and
      print JSON: metas, page size, freelist ids, and every reachable page with the file offset
      of the pgid field that references it (branch child or bucket root).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usageText)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(os.Args[2:])
	case "write-loop":
		err = runWriteLoop(os.Args[2:])
	case "churn":
		err = runChurn(os.Args[2:])
	case "check":
		err = runCheck(os.Args[2:])
	case "layout":
		err = runLayout(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usageText)
		return
	default:
		fmt.Fprintf(os.Stderr, "boltref: unknown subcommand %q\n\n%s", os.Args[1], usageText)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "boltref %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func printJSON(v interface{}) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

// ---------------------------------------------------------------------------------------------
// containers/image bucket names (ci523 pkg/blobinfocache/boltdb/boltdb.go:24-34, ci5361 29-44).

var (
	bucketUncompressedDigest       = []byte("uncompressedDigest")
	bucketDigestByUncompressed     = []byte("digestByUncompressed")
	bucketKnownLocations           = []byte("knownLocations")
	bucketDigestCompressor         = []byte("digestCompressor")
	bucketDigestSpecificVariantCmp = []byte("digestSpecificVariantCompressor")
)

// blob is one layer as c/image records it.
type blob struct {
	digest       string // compressed digest as pushed
	uncompressed string
	compressor   string
	scope        string // registry host (BICTransportScope.Opaque for docker)
	location     string // repository path (BICLocationReference.Opaque)
	when         time.Time
}

// appendOrder makes every new digest sort after the previous one (a counter in the first 16 hex
// digits, random after). Random digests make each transaction touch leaves all over the tree, so
// a build rewrites the whole file per transaction; in append order it only adds pages.
var appendOrder bool
var digestCounter uint64

func digestOf(r *rand.Rand) string {
	var b [32]byte
	r.Read(b[:])
	sum := sha256.Sum256(b[:])
	if appendOrder {
		digestCounter++
		return fmt.Sprintf("sha256:%016x%s", digestCounter, hex.EncodeToString(sum[8:]))
	}
	return "sha256:" + hex.EncodeToString(sum[:])
}

// record writes one blob the way c/image's RecordDigestUncompressedPair, RecordKnownLocation
// and RecordDigestCompressorName do (they are separate db.Update calls there; here one tx).
func record(tx *bolt.Tx, b blob, fill float64) error {
	ud, err := tx.CreateBucketIfNotExists(bucketUncompressedDigest)
	if err != nil {
		return err
	}
	ud.FillPercent = fill
	if err := ud.Put([]byte(b.digest), []byte(b.uncompressed)); err != nil {
		return err
	}
	if b.digest != b.uncompressed {
		if err := ud.Put([]byte(b.uncompressed), []byte(b.uncompressed)); err != nil {
			return err
		}
	}
	dbu, err := tx.CreateBucketIfNotExists(bucketDigestByUncompressed)
	if err != nil {
		return err
	}
	dbu.FillPercent = fill
	sub, err := dbu.CreateBucketIfNotExists([]byte(b.uncompressed))
	if err != nil {
		return err
	}
	if err := sub.Put([]byte(b.digest), []byte{}); err != nil {
		return err
	}
	kl, err := tx.CreateBucketIfNotExists(bucketKnownLocations)
	if err != nil {
		return err
	}
	kl.FillPercent = fill
	tr, err := kl.CreateBucketIfNotExists([]byte("docker"))
	if err != nil {
		return err
	}
	tr.FillPercent = fill
	sc, err := tr.CreateBucketIfNotExists([]byte(b.scope))
	if err != nil {
		return err
	}
	sc.FillPercent = fill
	dg, err := sc.CreateBucketIfNotExists([]byte(b.digest))
	if err != nil {
		return err
	}
	value, err := b.when.MarshalBinary()
	if err != nil {
		return err
	}
	if err := dg.Put([]byte(b.location), value); err != nil {
		return err
	}
	dc, err := tx.CreateBucketIfNotExists(bucketDigestCompressor)
	if err != nil {
		return err
	}
	dc.FillPercent = fill
	return dc.Put([]byte(b.digest), []byte(b.compressor))
}

// imageBlobs makes one image's layers. Some uncompressed digests are shared by many compressed
// variants (a popular base layer pushed with different compression), so digestByUncompressed
// gets both inline sub-buckets (one entry) and real ones (many entries).
func imageBlobs(r *rand.Rand, image int, blobsPerImage int, shared, sharedCompressed []string, base time.Time) []blob {
	scopes := []string{"registry.example.com", "quay.example.org", "127.0.0.1:5000", "harbor.build.internal"}
	repo := fmt.Sprintf("builds/team%02d/service-%05d", image%37, image)
	scope := scopes[image%len(scopes)]
	out := make([]blob, 0, blobsPerImage)
	for j := 0; j < blobsPerImage; j++ {
		b := blob{digest: digestOf(r), scope: scope, location: repo, when: base.Add(time.Duration(image*blobsPerImage+j) * time.Second).UTC()}
		switch {
		case j == 0 && len(shared) > 0 && r.Intn(2) == 0:
			// The same compressed base layer pushed to many repositories: its
			// knownLocations digest bucket outgrows inline size and gets its own pages.
			k := r.Intn(len(sharedCompressed))
			b.digest = sharedCompressed[k]
			b.uncompressed = shared[k]
			b.compressor = "gzip"
		case j == 0 && len(shared) > 0:
			// The same base layer recompressed: many digests per uncompressed digest.
			b.uncompressed = shared[r.Intn(len(shared))]
			b.compressor = "gzip"
		case r.Intn(5) == 0:
			b.uncompressed = b.digest
			b.compressor = "uncompressed"
		default:
			b.uncompressed = digestOf(r)
			if r.Intn(3) == 0 {
				b.compressor = "zstd"
			} else {
				b.compressor = "gzip"
			}
		}
		out = append(out, b)
	}
	return out
}

func runBuild(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("out", "", "database path to create")
	seed := fs.Int64("seed", 1, "random seed")
	images := fs.Int("images", 20, "images to record")
	blobsPer := fs.Int("blobs", 4, "layers per image")
	pageSize := fs.Int("page-size", 0, "page size (0 = OS page size)")
	targetMB := fs.Int("target-mb", 0, "grow until the file reaches this many MiB (overrides -images)")
	largeValues := fs.Int("large-values", 2, "large values (overflow pages)")
	deleteEvery := fs.Int("delete-every", 7, "delete every Nth image at the end (0 = none)")
	batch := fs.Int("batch", 2000, "images per transaction")
	fill := fs.Float64("fill", 0.5, "bucket FillPercent")
	trim := fs.Bool("trim", false, "truncate the file to the high-water mark (bbolt grows files in chunks)")
	order := fs.String("order", "auto", "digest order: random | append | auto (append with -target-mb)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists; refusing to add to it", *out)
	}
	switch *order {
	case "random":
	case "append":
		appendOrder = true
	case "auto":
		appendOrder = *targetMB > 0
	default:
		return fmt.Errorf("-order must be random, append or auto")
	}
	started := time.Now()
	// The array freelist allocates deterministically (same seed, same bytes); the hashmap one
	// iterates a Go map, but only it stays fast once a big file has many free pages.
	opts := &bolt.Options{PageSize: *pageSize, NoSync: true, FreelistType: bolt.FreelistArrayType}
	if *targetMB > 0 {
		opts.FreelistType = bolt.FreelistMapType
		opts.InitialMmapSize = (*targetMB + 64) << 20
	}
	db, err := bolt.Open(*out, 0600, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	r := rand.New(rand.NewSource(*seed))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	shared := make([]string, 0, 8)
	sharedCompressed := make([]string, 0, 8)
	for i := 0; i < 8; i++ {
		shared = append(shared, digestOf(r))
		if i < 2 {
			sharedCompressed = append(sharedCompressed, digestOf(r))
		}
	}
	var recorded []blob
	keepForDelete := *deleteEvery > 0
	txs := 0
	image := 0
	done := func() bool {
		if *targetMB > 0 {
			// The high-water mark, not the file size: bbolt grows the file ahead in chunks.
			var used int64
			_ = db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
			return used >= int64(*targetMB)<<20
		}
		return image >= *images
	}
	for !done() {
		n := *batch
		if *targetMB == 0 && *images-image < n {
			n = *images - image
		}
		err := db.Update(func(tx *bolt.Tx) error {
			for k := 0; k < n; k++ {
				for _, b := range imageBlobs(r, image, *blobsPer, shared, sharedCompressed, base) {
					if err := record(tx, b, *fill); err != nil {
						return err
					}
					if keepForDelete && image%*deleteEvery == 0 {
						recorded = append(recorded, b)
					}
				}
				image++
			}
			return nil
		})
		if err != nil {
			return err
		}
		txs++
		if len(recorded) > 0 {
			if err := deleteRecords(db, recorded); err != nil {
				return err
			}
			recorded = recorded[:0]
			txs++
		}
	}
	if *largeValues > 0 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketDigestSpecificVariantCmp)
			if err != nil {
				return err
			}
			for i := 0; i < *largeValues; i++ {
				size := 6*1024 + r.Intn(34*1024)
				annotations := fmt.Sprintf(`{"io.github.containers.zstd-chunked.manifest-position":"%s"}`, strings.Repeat("x", size))
				v := append([]byte("zstd:chunked\x00"), annotations...)
				if err := b.Put([]byte(digestOf(r)), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		txs++
	}
	if err := db.Sync(); err != nil {
		return err
	}
	pageSizeUsed := db.Info().PageSize
	var hwm int64
	if err := db.View(func(tx *bolt.Tx) error { hwm = int64(tx.Size()); return nil }); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if *trim {
		// Pages at or past the high-water mark are unused; bbolt itself creates 4-page files.
		if err := os.Truncate(*out, hwm); err != nil {
			return err
		}
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	printJSON(map[string]interface{}{
		"path": *out, "bytes": st.Size(), "usedBytes": hwm, "pageSize": pageSizeUsed, "images": image,
		"blobs": image * *blobsPer, "txs": txs, "seconds": time.Since(started).Seconds(),
	})
	return nil
}

// deleteRecords removes what c/image would replace over time. Done after every batch (on that
// batch's records only), so a big append-order build touches only recent pages instead of
// rewriting the whole tree; the freed pages stay in the persisted freelist or get reused.
func deleteRecords(db *bolt.DB, recorded []blob) error {
	return db.Update(func(tx *bolt.Tx) error {
		ud := tx.Bucket(bucketUncompressedDigest)
		dc := tx.Bucket(bucketDigestCompressor)
		sc := tx.Bucket(bucketKnownLocations).Bucket([]byte("docker"))
		for _, b := range recorded {
			if err := ud.Delete([]byte(b.digest)); err != nil {
				return err
			}
			if err := dc.Delete([]byte(b.digest)); err != nil {
				return err
			}
			s := sc.Bucket([]byte(b.scope))
			if s == nil {
				continue
			}
			dg := s.Bucket([]byte(b.digest))
			if dg == nil {
				continue
			}
			if err := dg.Delete([]byte(b.location)); err != nil {
				return err
			}
			if k, _ := dg.Cursor().First(); k == nil {
				if err := s.DeleteBucket([]byte(b.digest)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ---------------------------------------------------------------------------------------------

func runWriteLoop(args []string) error {
	fs := flag.NewFlagSet("write-loop", flag.ContinueOnError)
	path := fs.String("db", "", "database path")
	iterations := fs.Int("iterations", 100, "iterations (0 = no limit)")
	duration := fs.Duration("duration", 0, "stop after this long (0 = no limit)")
	seed := fs.Int64("seed", time.Now().UnixNano(), "random seed")
	blobs := fs.Int("blobs", 3, "blobs recorded per iteration")
	interval := fs.Duration("interval", 0, "wait between iterations")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("-db is required")
	}
	if *iterations == 0 && *duration == 0 {
		return errors.New("need -iterations or -duration")
	}
	r := rand.New(rand.NewSource(*seed))
	started := time.Now()
	n := 0
	for {
		if *iterations > 0 && n >= *iterations {
			break
		}
		if *duration > 0 && time.Since(started) >= *duration {
			break
		}
		if n > 0 && *interval > 0 {
			time.Sleep(*interval)
		}
		// As c/image's update(): open per operation with default options (LOCK_EX, no timeout).
		db, err := bolt.Open(*path, 0600, nil)
		if err != nil {
			return err
		}
		blobsNow := imageBlobs(r, r.Intn(1000), *blobs, nil, nil, time.Now())
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range blobsNow {
				b.when = time.Now()
				if err := record(tx, b, bolt.DefaultFillPercent); err != nil {
					return err
				}
			}
			return nil
		})
		closeErr := db.Close()
		if err != nil {
			return err
		}
		if closeErr != nil {
			return closeErr
		}
		n++
	}
	printJSON(map[string]interface{}{"iterations": n, "seconds": time.Since(started).Seconds()})
	return nil
}

// ---------------------------------------------------------------------------------------------

func runChurn(args []string) error {
	fs := flag.NewFlagSet("churn", flag.ContinueOnError)
	path := fs.String("db", "", "database path")
	txs := fs.Int("txs", 20000, "transactions")
	perTx := fs.Int("per-tx", 4, "blobs deleted and recorded per transaction")
	seed := fs.Int64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("-db is required")
	}
	if _, err := os.Stat(*path); err != nil {
		return err
	}
	started := time.Now()
	db, err := bolt.Open(*path, 0600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	defer db.Close()
	r := rand.New(rand.NewSource(*seed))
	appendOrder = false
	deleted := 0
	for t := 0; t < *txs; t++ {
		err := db.Update(func(tx *bolt.Tx) error {
			ud := tx.Bucket(bucketUncompressedDigest)
			dc := tx.Bucket(bucketDigestCompressor)
			kl := tx.Bucket(bucketKnownLocations)
			if ud == nil || dc == nil || kl == nil {
				return errors.New("not a containers/image blob-info cache (a bucket is missing)")
			}
			docker := kl.Bucket([]byte("docker"))
			for i := 0; i < *perTx; i++ {
				k, _ := ud.Cursor().Seek([]byte(digestOf(r)))
				if k == nil {
					continue
				}
				digest := append([]byte{}, k...)
				if err := ud.Delete(digest); err != nil {
					return err
				}
				if err := dc.Delete(digest); err != nil {
					return err
				}
				if docker != nil {
					c := docker.Cursor()
					for scope, v := c.First(); scope != nil; scope, v = c.Next() {
						if v != nil {
							continue
						}
						if s := docker.Bucket(scope); s != nil && s.Bucket(digest) != nil {
							if err := s.DeleteBucket(digest); err != nil {
								return err
							}
						}
					}
				}
				deleted++
			}
			for _, b := range imageBlobs(r, r.Intn(100000), *perTx, nil, nil, time.Now()) {
				if err := record(tx, b, bolt.DefaultFillPercent); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := db.Sync(); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	st, err := os.Stat(*path)
	if err != nil {
		return err
	}
	printJSON(map[string]interface{}{"path": *path, "bytes": st.Size(), "txs": *txs, "deleted": deleted, "seconds": time.Since(started).Seconds()})
	return nil
}

// ---------------------------------------------------------------------------------------------

type checkReport struct {
	Open            string   `json:"open"`
	CheckErrors     []string `json:"checkErrors"`
	CheckErrorCount int      `json:"checkErrorCount"`
	FullRead        string   `json:"fullRead"`
	Keys            int      `json:"keys"`
	Buckets         int      `json:"buckets"`
	OrderViolations []string `json:"orderViolations"`
	LookupMisses    []string `json:"lookupMisses"`
	Txid            int      `json:"txid"`
	PageSize        int      `json:"pageSize"`
}

const (
	maxReportedErrors = 1000
	maxBucketDepth    = 256
)

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	lockTimeout := fs.Duration("lock-timeout", 0, "flock wait (0 = forever)")
	lookups := fs.Bool("lookups", false, "also look every key up by Get and require its value back")
	checkOnly := fs.Bool("check-only", false, "tx.Check() only, no full read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("check needs exactly one PATH")
	}
	path := fs.Arg(0)
	rep := checkReport{CheckErrors: []string{}, OrderViolations: []string{}, LookupMisses: []string{}, FullRead: "not-run"}
	// bbolt 1.3.6 opens read-only with O_CREATE: stat first so a missing file stays missing.
	if _, err := os.Stat(path); err != nil {
		rep.Open = err.Error()
		printJSON(rep)
		return nil
	}
	db, err := bolt.Open(path, 0400, &bolt.Options{ReadOnly: true, Timeout: *lockTimeout})
	if err != nil {
		rep.Open = err.Error()
		printJSON(rep)
		return nil
	}
	defer db.Close()
	rep.Open = "ok"
	rep.PageSize = db.Info().PageSize
	tx, err := db.Begin(false)
	if err != nil {
		rep.Open = "begin: " + err.Error()
		printJSON(rep)
		return nil
	}
	defer func() { _ = tx.Rollback() }()
	rep.Txid = tx.ID()
	// A cycle in the page graph makes bbolt's check recurse forever, sending an error per step;
	// past a bound no healthy-vs-not question is left open, so stop listening and move on
	// (the checking goroutine stays blocked; the process exits soon after).
	maxCheckErrors := 10000
	for err := range tx.Check() {
		rep.CheckErrorCount++
		if len(rep.CheckErrors) < maxReportedErrors {
			fmt.Fprintf(os.Stderr, "boltref: check-error: %v\n", err)
			rep.CheckErrors = append(rep.CheckErrors, err.Error())
		}
		if rep.CheckErrorCount >= maxCheckErrors {
			rep.CheckErrors = append(rep.CheckErrors, fmt.Sprintf("boltref: check stopped after %d errors (page cycle?)", maxCheckErrors))
			break
		}
	}
	if *checkOnly {
		printJSON(rep)
		return nil
	}
	fmt.Fprintln(os.Stderr, "boltref: check done, full read starts")
	// Every key or bucket takes at least a 16-byte element somewhere in the file, so a walk that
	// yields more entries than that is going round a cycle.
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	reader := fullReader{rep: &rep, maxEntries: int(st.Size()/16) + 1000, lookups: *lookups}
	if err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return reader.bucket([]string{string(name)}, b, 1)
	}); err != nil {
		rep.FullRead = err.Error()
	} else {
		rep.FullRead = "ok"
	}
	// Top-level names are keys of the root bucket: check their order too.
	reader.orderOf([]string{}, tx.Cursor())
	printJSON(rep)
	return nil
}

type fullReader struct {
	rep        *checkReport
	maxEntries int
	lookups    bool
	sink       uint64 // touched bytes land here, so every key and value byte is really read
}

func (f *fullReader) violation(path []string, msg string) {
	if len(f.rep.OrderViolations) < maxReportedErrors {
		f.rep.OrderViolations = append(f.rep.OrderViolations, "/"+strings.Join(path, "/")+": "+msg)
	}
}

func (f *fullReader) orderOf(path []string, c *bolt.Cursor) {
	var prev []byte
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			f.violation(path, fmt.Sprintf("key %q not after %q", k, prev))
		}
		prev = append(prev[:0], k...)
	}
}

func (f *fullReader) touch(b []byte) {
	h := fnv.New64a()
	_, _ = h.Write(b)
	f.sink ^= h.Sum64()
}

func (f *fullReader) bucket(path []string, b *bolt.Bucket, depth int) error {
	if depth > maxBucketDepth {
		return fmt.Errorf("bucket nesting deeper than %d at /%s", maxBucketDepth, strings.Join(path, "/"))
	}
	f.rep.Buckets++
	c := b.Cursor()
	var prev []byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if f.rep.Keys+f.rep.Buckets > f.maxEntries {
			return fmt.Errorf("more than %d entries, more than the file can hold (page cycle?)", f.maxEntries)
		}
		f.touch(k)
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			f.violation(path, fmt.Sprintf("key %q not after %q", k, prev))
		}
		prev = append(prev[:0], k...)
		if v == nil {
			child := b.Bucket(k)
			if child == nil {
				return fmt.Errorf("/%s: key %q has no value but is not a bucket", strings.Join(path, "/"), k)
			}
			if err := f.bucket(append(append([]string{}, path...), string(k)), child, depth+1); err != nil {
				return err
			}
			continue
		}
		f.touch(v)
		f.rep.Keys++
		// A cursor walk never uses branch separator keys; a keyed lookup (what skopeo does)
		// descends by them, so a bad separator shows up only here.
		if f.lookups {
			if got := b.Get(k); !bytes.Equal(got, v) {
				if len(f.rep.LookupMisses) < maxReportedErrors {
					f.rep.LookupMisses = append(f.rep.LookupMisses, fmt.Sprintf("/%s: key %q not found by Get", strings.Join(path, "/"), k))
				}
			}
		}
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// layout: an independent parse of healthy files, to aim damage at exact bytes.

type metaInfo struct {
	Page       int    `json:"page"`
	Magic      uint32 `json:"magic"`
	Version    uint32 `json:"version"`
	PageSize   uint32 `json:"pageSize"`
	Root       uint64 `json:"root"`
	Freelist   uint64 `json:"freelist"`
	Hwm        uint64 `json:"hwm"`
	Txid       uint64 `json:"txid"`
	Checksum   uint64 `json:"checksum"`
	ChecksumOK bool   `json:"checksumOk"`
}

type pageInfo struct {
	ID       uint64   `json:"id"`
	Type     string   `json:"type"`
	Count    int      `json:"count"`
	Overflow int      `json:"overflow"`
	Depth    int      `json:"depth"`   // 0 = a bucket's root page
	Bucket   []string `json:"bucket"`  // path of the bucket owning the page ([] = the root bucket)
	RefFrom  int64    `json:"refFrom"` // page holding the reference; -1 = the meta
	RefKind  string   `json:"refKind"` // "meta-root" | "bucket-root" | "branch-child"
	RefElem  int      `json:"refElem"` // element index in RefFrom
	RefAt    int64    `json:"refAt"`   // file offset of the u64 pgid that references this page
}

type inlineInfo struct {
	Bucket  []string `json:"bucket"`
	Parent  uint64   `json:"parent"`  // leaf page holding the bucket value
	Elem    int      `json:"elem"`    // element index in Parent
	ValueAt int64    `json:"valueAt"` // file offset of the 16-byte bucket header; the page image follows
	Count   int      `json:"count"`
}

type layoutReport struct {
	PageSize      int          `json:"pageSize"`
	FileBytes     int64        `json:"fileBytes"`
	Metas         []metaInfo   `json:"metas"`
	Chosen        int          `json:"chosen"`
	FreelistPage  uint64       `json:"freelistPage"`
	FreelistCount int          `json:"freelistCount"`
	FreelistAt    int64        `json:"freelistAt"` // file offset of the first listed id
	Free          []uint64     `json:"free"`
	Pages         []pageInfo   `json:"pages"`
	Inline        []inlineInfo `json:"inline"`
}

var pageTypes = map[uint16]string{0x01: "branch", 0x02: "leaf", 0x04: "meta", 0x10: "freelist"}

func runLayout(args []string) error {
	if len(args) != 1 {
		return errors.New("layout needs exactly one PATH")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	if len(data) < 4096 {
		return errors.New("file shorter than 4096 bytes")
	}
	le := binary.LittleEndian
	rep := layoutReport{FileBytes: int64(len(data)), Pages: []pageInfo{}, Inline: []inlineInfo{}, Free: []uint64{}}
	rep.PageSize = int(le.Uint32(data[24:]))
	ps := rep.PageSize
	if ps < 512 || len(data) < 2*ps {
		return fmt.Errorf("implausible page size %d", ps)
	}
	best := -1
	for i := 0; i < 2; i++ {
		m := data[i*ps+16:]
		h := fnv.New64a()
		_, _ = h.Write(m[:56])
		mi := metaInfo{Page: i, Magic: le.Uint32(m), Version: le.Uint32(m[4:]), PageSize: le.Uint32(m[8:]),
			Root: le.Uint64(m[16:]), Freelist: le.Uint64(m[32:]), Hwm: le.Uint64(m[40:]), Txid: le.Uint64(m[48:]),
			Checksum: le.Uint64(m[56:])}
		mi.ChecksumOK = mi.Checksum == h.Sum64()
		rep.Metas = append(rep.Metas, mi)
		if mi.Magic == 0xED0CDAED && mi.Version == 2 && mi.ChecksumOK && (best < 0 || mi.Txid > rep.Metas[best].Txid) {
			best = i
		}
	}
	if best < 0 {
		return errors.New("no valid meta page")
	}
	rep.Chosen = best
	meta := rep.Metas[best]
	page := func(id uint64) ([]byte, error) {
		off := int64(id) * int64(ps)
		if id >= meta.Hwm || off+int64(ps) > int64(len(data)) {
			return nil, fmt.Errorf("page %d out of range", id)
		}
		return data[off:], nil
	}
	rep.FreelistPage = meta.Freelist
	if meta.Freelist != ^uint64(0) {
		p, err := page(meta.Freelist)
		if err != nil {
			return err
		}
		count := int(le.Uint16(p[10:]))
		start := 16
		if count == 0xFFFF {
			count = int(le.Uint64(p[16:]))
			start = 24
		}
		rep.FreelistCount = count
		rep.FreelistAt = int64(meta.Freelist)*int64(ps) + int64(start)
		for i := 0; i < count; i++ {
			rep.Free = append(rep.Free, le.Uint64(p[start+8*i:]))
		}
	}
	seen := map[uint64]bool{}
	var walk func(id uint64, bucket []string, depth int, refFrom int64, kind string, elem int, refAt int64) error
	walk = func(id uint64, bucket []string, depth int, refFrom int64, kind string, elem int, refAt int64) error {
		if seen[id] {
			return fmt.Errorf("page %d reached twice", id)
		}
		seen[id] = true
		p, err := page(id)
		if err != nil {
			return err
		}
		flags := le.Uint16(p[8:])
		count := int(le.Uint16(p[10:]))
		pi := pageInfo{ID: id, Type: pageTypes[flags], Count: count, Overflow: int(le.Uint32(p[12:])), Depth: depth,
			Bucket: bucket, RefFrom: refFrom, RefKind: kind, RefElem: elem, RefAt: refAt}
		if pi.Type == "" {
			pi.Type = fmt.Sprintf("unknown<%02x>", flags)
		}
		rep.Pages = append(rep.Pages, pi)
		base := int64(id) * int64(ps)
		switch flags {
		case 0x01:
			for i := 0; i < count; i++ {
				e := 16 + 16*i
				child := le.Uint64(p[e+8:])
				if err := walk(child, bucket, depth+1, int64(id), "branch-child", i, base+int64(e+8)); err != nil {
					return err
				}
			}
		case 0x02:
			return leafBuckets(p, base, id, bucket, func(name []string, root uint64, elem int, valueAt int64, inline []byte) error {
				if root == 0 {
					rep.Inline = append(rep.Inline, inlineInfo{Bucket: name, Parent: id, Elem: elem, ValueAt: valueAt,
						Count: int(le.Uint16(inline[10:]))})
					return nil
				}
				return walk(root, name, 0, int64(id), "bucket-root", elem, valueAt)
			})
		default:
			return fmt.Errorf("page %d has type %s", id, pi.Type)
		}
		return nil
	}
	if err := walk(meta.Root, []string{}, 0, -1, "meta-root", 0, int64(best*ps+16+16)); err != nil {
		return err
	}
	sort.Slice(rep.Pages, func(i, j int) bool { return rep.Pages[i].ID < rep.Pages[j].ID })
	printJSON(rep)
	return nil
}

// leafBuckets calls fn for every sub-bucket element of a leaf page.
func leafBuckets(p []byte, base int64, id uint64, bucket []string, fn func(name []string, root uint64, elem int, valueAt int64, inline []byte) error) error {
	le := binary.LittleEndian
	count := int(le.Uint16(p[10:]))
	for i := 0; i < count; i++ {
		e := 16 + 16*i
		if le.Uint32(p[e:])&1 == 0 {
			continue
		}
		pos := int(le.Uint32(p[e+4:]))
		ksize := int(le.Uint32(p[e+8:]))
		vsize := int(le.Uint32(p[e+12:]))
		k := p[e+pos : e+pos+ksize]
		v := p[e+pos+ksize : e+pos+ksize+vsize]
		name := append(append([]string{}, bucket...), string(k))
		if err := fn(name, le.Uint64(v), i, base+int64(e+pos+ksize), v[16:]); err != nil {
			return err
		}
	}
	return nil
}
