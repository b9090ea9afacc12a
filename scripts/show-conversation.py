"""Pretty-prints the JSON of `salestag-gateway conversations --latest` for people."""

import json
import sys

record = json.loads(sys.stdin.read())
print(f"  conversation {record['id']} from badge {record['badge_id']} "
      f"(rep {record['rep_id']}), {record['duration_s'] or 0:.1f} s, status {record['status']}")
for seg in record["segments"]:
    print(f"  [{seg['start']:6.2f}-{seg['end']:6.2f}] {seg['text']}")
print("  tags:")
for tag in record["tags"]:
    print(f"    {tag['tag']:<22} {tag['start']:6.2f}-{tag['end']:6.2f}  {tag['text']}")
