# yaml.awk - flatten the small subset of YAML that cloud-init's NoCloud files use.
#
# Usage: awk -f yaml.awk FILE
# Output: one line per scalar, "PATH<TAB>VALUE", where PATH joins map keys and
# list indexes with dots:
#
#   ethernets:                          ethernets.nic0.addresses.0  10.0.0.5/24
#     nic0:                       =>    ethernets.nic0.gateway4     10.0.0.1
#       addresses: [10.0.0.5/24]
#       gateway4: 10.0.0.1
#
# Understood: block maps and block lists ("- a", "- key: v", lists at the same
# indent as their key), flow lists and maps ("[a, b]", "{k: v}", nested, even
# spread over several lines), plain, 'single' and "double" quoted scalars,
# comments, and block scalars: "|" gives one entry per line (PATH.0, PATH.1, ...,
# the shape of a list, which is what chpasswd's "list: |" wants), ">" folds the
# lines into one PATH entry. Not understood (ignored or taken literally):
# anchors, aliases, tags, multi-document streams, complex keys. The parser is
# tolerant: a line it does not understand is skipped, never fatal.

function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	return s
}

function emit(path, val) {
	sub(/^\./, "", path)
	gsub(/\t/, " ", val)
	print path "\t" val
}

# Remove a trailing " # comment" that is not inside quotes.
function strip_comment(s,    i, c, q) {
	q = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (q != "") {
			if (c == "'" && q == "'" && substr(s, i + 1, 1) == "'")
				i++	# '' is a quote inside a single-quoted scalar
			else if (c == "\\" && q == "\"")
				i++	# \" is a quote inside a double-quoted scalar
			else if (c == q)
				q = ""
		} else if (c == "\"" || c == "'") {
			# A quote only opens a quoted scalar at the start of a token.
			if (i == 1 || substr(s, i - 1, 1) ~ /[ \t\[{,:-]/)
				q = c
		} else if (c == "#" && (i == 1 || substr(s, i - 1, 1) ~ /[ \t]/)) {
			return substr(s, 1, i - 1)
		}
	}
	return s
}

# Unquote one complete scalar token.
function scalar(s,    q, out, i, c) {
	s = trim(s)
	q = substr(s, 1, 1)
	if ((q == "\"" || q == "'") && length(s) >= 2 && substr(s, length(s), 1) == q) {
		s = substr(s, 2, length(s) - 2)
		if (q == "'") {
			gsub(/''/, "'", s)
			return s
		}
		out = ""
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			if (c == "\\" && i < length(s)) {
				c = substr(s, ++i, 1)
				if (c == "n") c = "\n"
				else if (c == "t") c = "\t"
			}
			out = out c
		}
		return out
	}
	return s
}

# Position of the ":" that ends a block map key in s, or 0 for a plain scalar.
# The colon must be followed by a space or the end of the line, and the key
# must not start like a flow collection or a quoted scalar that has no colon.
function key_colon(s,    i, q, c) {
	c = substr(s, 1, 1)
	if (c == "[" || c == "{")
		return 0
	if (c == "\"" || c == "'") {
		i = index(substr(s, 2), c)
		if (i == 0)
			return 0
		i += 2
		return (substr(s, i, 1) == ":" && (i == length(s) || substr(s, i + 1, 1) ~ /[ \t]/)) ? i : 0
	}
	for (i = 1; i <= length(s); i++)
		if (substr(s, i, 1) == ":" && (i == length(s) || substr(s, i + 1, 1) ~ /[ \t]/))
			return i
	return 0
}

# ---- flow collections: recursive descent over the global string F at FP ----

function fskip() {
	while (FP <= length(F) && substr(F, FP, 1) ~ /[ \t\n]/)
		FP++
}

function fscalar(stops,    start, c, q) {
	fskip()
	start = FP
	q = substr(F, FP, 1)
	if (q == "\"" || q == "'") {
		FP++
		while (FP <= length(F)) {
			c = substr(F, FP, 1)
			if (c == "\\" && q == "\"") { FP += 2; continue }
			FP++
			if (c == q) {
				if (q == "'" && substr(F, FP, 1) == "'") { FP++; continue }
				break
			}
		}
		return scalar(substr(F, start, FP - start))
	}
	while (FP <= length(F) && index(stops, substr(F, FP, 1)) == 0)
		FP++
	return scalar(substr(F, start, FP - start))
}

function fvalue(path,    c, n, k) {
	fskip()
	c = substr(F, FP, 1)
	if (c == "[") {
		FP++
		n = 0
		for (;;) {
			fskip()
			if (FP > length(F)) return
			if (substr(F, FP, 1) == "]") { FP++; return }
			fvalue(path "." n++)
			fskip()
			if (substr(F, FP, 1) == ",") FP++
		}
	} else if (c == "{") {
		FP++
		for (;;) {
			fskip()
			if (FP > length(F)) return
			if (substr(F, FP, 1) == "}") { FP++; return }
			k = fscalar(":,}")
			fskip()
			if (substr(F, FP, 1) == ":") {
				FP++
				fvalue(path "." k)
			} else {
				emit(path "." k, "")
			}
			fskip()
			if (substr(F, FP, 1) == ",") FP++
		}
	} else {
		emit(path, fscalar(",]}"))
	}
}

# Nesting depth still open in a flow collection text (quotes respected).
function flow_open(s,    i, c, q, d) {
	d = 0
	q = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (q != "") { if (c == q) q = ""; continue }
		if (c == "\"" || c == "'") q = c
		else if (c == "[" || c == "{") d++
		else if (c == "]" || c == "}") d--
	}
	return d
}

# ---- block structure: a stack of open containers ----
# lvl_ind[d]:  indent of the line that opened level d (children are deeper)
# lvl_path[d]: path of level d
# lvl_item[d]: 1 when level d is a list item opened by "- "
# lvl_next[d]: next list index for "- " items directly under level d

function push(ind, path, item) {
	top++
	lvl_ind[top] = ind
	lvl_path[top] = path
	lvl_item[top] = item
	lvl_next[top] = 0
}

# A value after "key:" or "- ": a nested block, a flow collection, a block
# scalar or a plain scalar. ind is the indent that the value's children exceed.
function value(path, v, ind) {
	if (v == "") {
		push(ind, path, 0)
	} else if (v ~ /^[\[{]/) {
		F = v
		if (flow_open(F) > 0) {
			# The collection goes on over the next lines.
			flow_path = path
			return
		}
		FP = 1
		fvalue(path)
	} else if (v ~ /^[|>][-+0-9]*$/) {
		bs_path = path
		bs_parent = ind
		bs_ind = -1
		bs_fold = (substr(v, 1, 1) == ">")
		bs_n = 0
		bs_text = ""
	} else {
		emit(path, scalar(v))
	}
}

# "key: value" found at column ind (0-based) inside the level at top.
function keyval(s, ind,    c, k) {
	c = key_colon(s)
	k = scalar(substr(s, 1, c - 1))
	if (k == "")
		return
	value(lvl_path[top] "." k, trim(substr(s, c + 1)), ind)
}

function end_block_scalar() {
	if (bs_path == "")
		return
	if (bs_fold)
		emit(bs_path, bs_text)
	bs_path = ""
}

BEGIN {
	top = 0
	lvl_ind[0] = -1
	lvl_path[0] = ""
	lvl_item[0] = 0
	lvl_next[0] = 0
	bs_path = ""
	flow_path = ""
}

{
	line = $0
	sub(/\r$/, "", line)

	# Inside a block scalar: keep lines indented deeper than its key.
	if (bs_path != "") {
		match(line, /^ */)
		if (line ~ /^[ \t]*$/) {
			if (!bs_fold) emit(bs_path "." bs_n++, "")
			next
		}
		if (RLENGTH > bs_parent) {
			if (bs_ind < 0)
				bs_ind = RLENGTH
			text = substr(line, bs_ind + 1)
			if (bs_fold)
				bs_text = (bs_text == "") ? text : bs_text " " text
			else
				emit(bs_path "." bs_n++, text)
			next
		}
		end_block_scalar()
	}

	# Inside a flow collection spread over lines: gather until it closes.
	if (flow_path != "") {
		F = F " " trim(strip_comment(line))
		if (flow_open(F) > 0)
			next
		FP = 1
		fvalue(flow_path)
		flow_path = ""
		next
	}

	s = strip_comment(line)
	if (s ~ /^[ \t]*$/ || s ~ /^(---|\.\.\.)[ \t]*$/ || s ~ /^%/)
		next
	match(s, /^ */)
	ind = RLENGTH
	s = trim(s)

	if (s == "-" || substr(s, 1, 2) == "- ") {
		# A list item: close deeper levels and sibling items, keep the owner
		# even when the items sit at its own indent ("key:\n- a").
		while (top > 0 && (lvl_ind[top] > ind || (lvl_ind[top] == ind && lvl_item[top])))
			top--
		path = lvl_path[top] "." lvl_next[top]++
		rest = trim(substr(s, 2))
		# The item's content starts at this column (for "- key: v" maps).
		col = ind + 1
		if (rest != "") {
			match(substr(s, 2), /^[ \t]*/)
			col = ind + 1 + RLENGTH
		}
		if (rest != "" && key_colon(rest)) {
			push(ind, path, 1)
			keyval(rest, col)
		} else if (rest == "") {
			push(ind, path, 1)
		} else {
			value(path, rest, ind)
		}
		next
	}

	if (key_colon(s)) {
		while (top > 0 && lvl_ind[top] >= ind)
			top--
		keyval(s, ind)
		next
	}
	# Anything else (a bare scalar document, a stray line) is ignored.
}

END {
	end_block_scalar()
	if (flow_path != "") {
		FP = 1
		fvalue(flow_path)
	}
}
