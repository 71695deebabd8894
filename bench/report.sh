# SPDX-License-Identifier: MIT
# The side-by-side table the bench scripts print: xmppd, Prosody and their
# ratio. Sourced after $TMP is set; a server's RESULT line is in
# $TMP/<server>.result.

# ratio A B: A/B as "1.23x", or NA when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "NA" || b == "NA" || b + 0 == 0) print "NA"; else printf "%.3gx", a / b }'
}

# result_field SERVER KEY: KEY= of SERVER's RESULT line, or NA.
result_field() {
    [ -s "$TMP/$1.result" ] || { echo NA; return; }
    sed -n "s/.* $2=\\([^ ]*\\).*/\\1/p" "$TMP/$1.result"
}

# report_header TITLE, then report_row LABEL KEY for each figure.
report_header() {
    echo
    printf '%-26s %14s %14s %14s\n' "$1" xmppd prosody xmppd/prosody
}

report_row() {
    local x p
    x=$(result_field xmppd "$2"); p=$(result_field prosody "$2")
    printf '%-26s %14s %14s %14s\n' "$1" "$x" "$p" "$(ratio "$x" "$p")"
}

# report_zero_loss: whether each server lost nothing.
report_zero_loss() {
    printf '%-26s %14s %14s\n' "zero loss" "$(result_field xmppd zero_loss)" \
        "$(result_field prosody zero_loss)"
}
