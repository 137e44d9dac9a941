/**
 * Guest shell that writes a disk block by block and checks it back, for
 * the tests that move disks while guests write (copy-storage, storage
 * jobs): block i (64 KiB, from 1) holds `WORD-i` over and over.
 */

/** Fill blocks 1..`blocks` of /dev/vda with `WORD-i`, each synced. */
export function fillBlocks(word: string, blocks: number): string {
  return `i=0; while [ $i -lt ${blocks} ]; do i=$((i+1)); ` +
    `yes ${word}-$i | head -c 65536 | dd of=/dev/vda bs=64k seek=$i conv=fsync 2>/dev/null; done`;
}

/**
 * Read blocks 1..`blocks` back from the disk (caches dropped): prints `bad N`
 * for each that does not hold `WORD-i`, then `checked`.
 */
export function checkBlocks(word: string, blocks: number): string {
  return `sync; echo 3 > /proc/sys/vm/drop_caches; i=0; while [ $i -lt ${blocks} ]; do i=$((i+1)); ` +
    `[ "$(dd if=/dev/vda bs=64k skip=$i count=1 2>/dev/null | md5sum)" = ` +
    `"$(yes ${word}-$i | head -c 65536 | md5sum)" ] || echo bad $i; done; echo checked`;
}
