#!/bin/sh
# A counter behind a live page: `lantern -- tools/examples/counter.sh 5`.
# Counts to $1 (default 3) as soon as the page connects, then numbers every line the page
# sends: "4 hello". Exits 0 (close 1000) when the page sends "bye".
n=0
while [ "$n" -lt "${1:-3}" ]; do
    n=$((n + 1))
    echo "$n"
done
while IFS= read -r line; do
    n=$((n + 1))
    echo "$n $line"
    [ "$line" = bye ] && exit 0
done
