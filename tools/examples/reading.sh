#!/bin/sh
# A reading every second: `lantern -- tools/examples/reading.sh`.
# Prints the CPU temperature where the board has a sensor, else the load average. It never
# reads stdin: when the page goes away Lantern closes that, waits --exec-grace, then sends
# SIGTERM, which ends it.
while :; do
    if [ -r /sys/class/thermal/thermal_zone0/temp ]; then
        t=$(cat /sys/class/thermal/thermal_zone0/temp)
        echo "temperature $((t / 1000)).$((t % 1000 / 100)) C"
    else
        echo "load $(cut -d ' ' -f 1-3 /proc/loadavg)"
    fi
    sleep 1
done
