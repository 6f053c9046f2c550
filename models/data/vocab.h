// Vocabulary: token <-> id, with four special tokens at fixed ids
//   <pad> = 0   padding (the loss ignores it; Embedding's padding_idx)
//   <sos> = 1   start of sentence, the decoder's first input
//   <eos> = 2   end of sentence, the decoder's last target
//   <unk> = 3   any token not in the vocabulary
// then the corpus tokens, most frequent first (ties broken by the token's bytes, so the order is the
// same on every machine).
//
// On disk a vocabulary is a JSON file
//   {"format": "seqgrad-vocab", "version": 1, "tokens": ["<pad>", "<sos>", "<eos>", "<unk>", ...]}
// whose id for a token is its position in "tokens". Loading checks everything that could make ids
// silently wrong (specials out of place, duplicates, empty or non-string tokens) and names the file
// and the problem. Saving writes a temporary file in the same folder and renames it into place, so a
// crash never leaves half a vocabulary behind.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace seqgrad::data {

struct VocabOptions {
    std::size_t min_freq = 1;  // keep tokens seen at least this often
    std::size_t max_size = 0;  // 0 = no limit; otherwise at most this many ids including the specials
};

class Vocab {
public:
    static constexpr std::int64_t pad_id = 0;
    static constexpr std::int64_t sos_id = 1;
    static constexpr std::int64_t eos_id = 2;
    static constexpr std::int64_t unk_id = 3;
    static constexpr std::size_t num_specials = 4;
    // {"<pad>", "<sos>", "<eos>", "<unk>"}, in id order.
    static const std::vector<std::string>& specials();

    // Only the four specials.
    Vocab();
    // From a full token list (specials first), validated like from_json; errors read
    // "vocab ORIGIN: problem".
    explicit Vocab(std::vector<std::string> tokens, std::string_view origin = "<tokens>");

    // Counts the tokens of every sequence and keeps those seen at least min_freq times, ordered by
    // frequency (descending) then token (ascending bytes). Literal special tokens in the input are
    // not counted again.
    static Vocab build(const std::vector<std::vector<std::string>>& sequences, const VocabOptions& options = {});

    std::size_t size() const { return tokens_.size(); }
    bool contains(std::string_view token) const;
    // The id of `token`, or unk_id when it is not in the vocabulary.
    std::int64_t id(std::string_view token) const;
    // The token of `id`; throws seqgrad::IndexError when id is outside [0, size()).
    const std::string& token(std::int64_t id) const;
    const std::vector<std::string>& tokens() const { return tokens_; }

    // Ids of the tokens (unknown ones map to unk_id), optionally framed by <sos> / <eos>.
    std::vector<std::int64_t> encode(const std::vector<std::string>& tokens, bool add_sos = false,
                                     bool add_eos = false) const;
    // Tokens of the ids up to the first <eos> (excluded), skipping <pad> and <sos>; <unk> shows as
    // "<unk>". A bad id throws seqgrad::IndexError.
    std::vector<std::string> decode(const std::vector<std::int64_t>& ids) const;

    // The JSON text of the file format above (one token per line).
    std::string to_json() const;
    // Parses and validates; errors are seqgrad::Error "vocab ORIGIN: problem".
    static Vocab from_json(std::string_view text, std::string_view origin = "<string>");

    // Atomic save (temporary file + rename); errors name the path.
    void save(const std::string& path) const;
    static Vocab load(const std::string& path);

    friend bool operator==(const Vocab& a, const Vocab& b) { return a.tokens_ == b.tokens_; }

private:
    std::vector<std::string> tokens_;
    std::unordered_map<std::string, std::int64_t> index_;
};

// seqgrad::write_file_atomic / read_file (models/fileio.h) with `what` ("vocab", "split", "corpus")
// in front of the message: "vocab: cannot open FILE: reason". Writes are atomic: a temporary file in
// the same folder, synced, renamed over `path`; on failure the old file is untouched.
void write_file_atomic(const std::string& path, std::string_view content, std::string_view what);

// Reads a whole file; throws seqgrad::Error "WHAT: cannot open PATH: reason" (or "cannot read").
std::string read_file(const std::string& path, std::string_view what);

}  // namespace seqgrad::data
