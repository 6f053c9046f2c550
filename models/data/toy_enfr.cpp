// The enfr task (see models/data/toy_tasks.h): a small English -> French lexicon, the grammar that
// renders a sentence in both languages (agreement, elision, negation, tenses), and the generator.
#include "models/data/toy_task_util.h"

#include <array>

namespace seqgrad::data {

using toy::Rng;
using toy::pick;
using toy::chance;
using toy::split_spaces;
using toy::join;

// ---- enfr -----------------------------------------------------------------------------------------
namespace enfr {

namespace {

// Noun categories (which verbs and adjectives a noun takes) and properties.
enum : unsigned {
    kPerson = 1, kAnimal = 2, kFood = 4, kReadable = 8, kThing = 16,  // categories
    kPortable = 32, kClosable = 64, kRepairable = 128, kWashable = 256, kPlace = 512,
};

struct Noun {
    const char *en, *en_pl, *fr, *fr_pl;
    bool fem;
    unsigned tags;
};

// No French noun starts with a vowel or h, so articles never elide (le/la, ce, mon stay as they are).
const std::vector<Noun> kNouns = {
    {"boy", "boys", "garçon", "garçons", false, kPerson},
    {"girl", "girls", "fille", "filles", true, kPerson},
    {"woman", "women", "femme", "femmes", true, kPerson},
    {"brother", "brothers", "frère", "frères", false, kPerson},
    {"sister", "sisters", "sœur", "sœurs", true, kPerson},
    {"father", "fathers", "père", "pères", false, kPerson},
    {"mother", "mothers", "mère", "mères", true, kPerson},
    {"king", "kings", "roi", "rois", false, kPerson},
    {"queen", "queens", "reine", "reines", true, kPerson},
    {"cat", "cats", "chat", "chats", false, kAnimal},
    {"dog", "dogs", "chien", "chiens", false, kAnimal},
    {"horse", "horses", "cheval", "chevaux", false, kAnimal},
    {"cow", "cows", "vache", "vaches", true, kAnimal},
    {"mouse", "mice", "souris", "souris", true, kAnimal},
    {"duck", "ducks", "canard", "canards", false, kAnimal},
    {"rabbit", "rabbits", "lapin", "lapins", false, kAnimal},
    {"apple", "apples", "pomme", "pommes", true, kFood | kPortable},
    {"pear", "pears", "poire", "poires", true, kFood | kPortable},
    {"banana", "bananas", "banane", "bananes", true, kFood | kPortable},
    {"tomato", "tomatoes", "tomate", "tomates", true, kFood | kPortable},
    {"carrot", "carrots", "carotte", "carottes", true, kFood | kPortable},
    {"pie", "pies", "tarte", "tartes", true, kFood | kPortable},
    {"cake", "cakes", "gâteau", "gâteaux", false, kFood | kPortable},
    {"cookie", "cookies", "biscuit", "biscuits", false, kFood | kPortable},
    {"sandwich", "sandwiches", "sandwich", "sandwichs", false, kFood | kPortable},
    {"lemon", "lemons", "citron", "citrons", false, kFood | kPortable},
    {"book", "books", "livre", "livres", false, kReadable | kPortable | kClosable},
    {"letter", "letters", "lettre", "lettres", true, kReadable | kPortable},
    {"newspaper", "newspapers", "journal", "journaux", false, kReadable | kPortable},
    {"magazine", "magazines", "magazine", "magazines", false, kReadable | kPortable},
    {"map", "maps", "carte", "cartes", true, kReadable | kPortable},
    {"poem", "poems", "poème", "poèmes", false, kReadable | kPortable},
    {"car", "cars", "voiture", "voitures", true, kThing | kRepairable | kWashable},
    {"bike", "bikes", "vélo", "vélos", false, kThing | kRepairable | kWashable | kPortable},
    {"door", "doors", "porte", "portes", true, kThing | kClosable | kRepairable | kWashable},
    {"window", "windows", "fenêtre", "fenêtres", true, kThing | kClosable | kRepairable | kWashable},
    {"box", "boxes", "boîte", "boîtes", true, kThing | kClosable | kPortable},
    {"chair", "chairs", "chaise", "chaises", true, kThing | kRepairable | kPortable | kWashable},
    {"table", "tables", "table", "tables", true, kThing | kRepairable | kWashable},
    {"bag", "bags", "sac", "sacs", false, kThing | kClosable | kPortable},
    {"hat", "hats", "chapeau", "chapeaux", false, kThing | kPortable},
    {"key", "keys", "clé", "clés", true, kThing | kPortable},
    {"phone", "phones", "téléphone", "téléphones", false, kThing | kRepairable | kPortable},
    {"cup", "cups", "tasse", "tasses", true, kThing | kPortable | kWashable},
    {"glass", "glasses", "verre", "verres", false, kThing | kPortable | kWashable},
    {"knife", "knives", "couteau", "couteaux", false, kThing | kPortable | kWashable},
    {"bottle", "bottles", "bouteille", "bouteilles", true, kThing | kClosable | kPortable | kWashable},
    {"kitchen", "kitchens", "cuisine", "cuisines", true, kPlace},
    {"garden", "gardens", "jardin", "jardins", false, kPlace},
    {"park", "parks", "parc", "parcs", false, kPlace},
    {"street", "streets", "rue", "rues", true, kPlace},
    {"bedroom", "bedrooms", "chambre", "chambres", true, kPlace},
    {"office", "offices", "bureau", "bureaux", false, kPlace},
    {"house", "houses", "maison", "maisons", true, kPlace},
    {"forest", "forests", "forêt", "forêts", true, kPlace},
};

struct Adjective {
    const char *en, *ms, *fs, *mp, *fp;
    bool before;    // placed before the noun (petit, grand, jeune); all others follow it
    unsigned tags;  // noun categories it describes
};

const std::vector<Adjective> kAdjectives = {
    {"red", "rouge", "rouge", "rouges", "rouges", false, kFood | kThing | kReadable},
    {"black", "noir", "noire", "noirs", "noires", false, kAnimal | kThing | kReadable},
    {"white", "blanc", "blanche", "blancs", "blanches", false, kAnimal | kThing | kReadable},
    {"green", "vert", "verte", "verts", "vertes", false, kFood | kThing},
    {"blue", "bleu", "bleue", "bleus", "bleues", false, kThing | kReadable},
    {"grey", "gris", "grise", "gris", "grises", false, kAnimal | kThing},
    {"small", "petit", "petite", "petits", "petites", true, kPerson | kAnimal | kFood | kReadable | kThing},
    {"big", "grand", "grande", "grands", "grandes", true, kPerson | kAnimal | kFood | kReadable | kThing},
    {"young", "jeune", "jeune", "jeunes", "jeunes", true, kPerson | kAnimal},
    {"broken", "cassé", "cassée", "cassés", "cassées", false, kThing},
    {"expensive", "cher", "chère", "chers", "chères", false, kThing | kReadable},
    {"delicious", "délicieux", "délicieuse", "délicieux", "délicieuses", false, kFood},
    {"tired", "fatigué", "fatiguée", "fatigués", "fatiguées", false, kPerson | kAnimal},
    {"happy", "content", "contente", "contents", "contentes", false, kPerson | kAnimal},
};

struct Verb {
    const char *en, *en_3sg, *en_pp;  // eat, eats, eaten
    const char *fr_inf, *fr_pp;       // manger, mangé
    std::array<const char*, 6> fr;    // present: je tu il nous vous ils
    unsigned objects;                 // noun tags it takes as object
    bool intransitive;                // may stand without an object ("she eats")
};

// All French verb forms start with a consonant, so only avoir / aller forms elide (j'ai, n'a, n'allons).
const std::vector<Verb> kVerbs = {
    {"eat", "eats", "eaten", "manger", "mangé", {"mange", "manges", "mange", "mangeons", "mangez", "mangent"}, kFood, true},
    {"see", "sees", "seen", "voir", "vu", {"vois", "vois", "voit", "voyons", "voyez", "voient"},
     kPerson | kAnimal | kFood | kReadable | kThing, false},
    {"take", "takes", "taken", "prendre", "pris", {"prends", "prends", "prend", "prenons", "prenez", "prennent"},
     kPortable, false},
    {"read", "reads", "read", "lire", "lu", {"lis", "lis", "lit", "lisons", "lisez", "lisent"}, kReadable, true},
    {"watch", "watches", "watched", "regarder", "regardé",
     {"regarde", "regardes", "regarde", "regardons", "regardez", "regardent"}, kPerson | kAnimal, false},
    {"look for", "looks for", "looked for", "chercher", "cherché",
     {"cherche", "cherches", "cherche", "cherchons", "cherchez", "cherchent"}, kPerson | kAnimal | kPortable, false},
    {"wash", "washes", "washed", "laver", "lavé", {"lave", "laves", "lave", "lavons", "lavez", "lavent"},
     kWashable | kAnimal, false},
    {"find", "finds", "found", "trouver", "trouvé", {"trouve", "trouves", "trouve", "trouvons", "trouvez", "trouvent"},
     kPerson | kAnimal | kFood | kReadable | kThing, false},
    {"sell", "sells", "sold", "vendre", "vendu", {"vends", "vends", "vend", "vendons", "vendez", "vendent"},
     kAnimal | kFood | kReadable | kThing, false},
    {"carry", "carries", "carried", "porter", "porté", {"porte", "portes", "porte", "portons", "portez", "portent"},
     kPortable, false},
    {"draw", "draws", "drawn", "dessiner", "dessiné",
     {"dessine", "dessines", "dessine", "dessinons", "dessinez", "dessinent"}, kPerson | kAnimal | kFood | kThing, true},
    {"repair", "repairs", "repaired", "réparer", "réparé",
     {"répare", "répares", "répare", "réparons", "réparez", "réparent"}, kRepairable, false},
    {"close", "closes", "closed", "fermer", "fermé", {"ferme", "fermes", "ferme", "fermons", "fermez", "ferment"},
     kClosable, false},
};

const std::array<const char*, 6> kAvoir = {"ai", "as", "a", "avons", "avez", "ont"};
const std::array<const char*, 6> kAller = {"vais", "vas", "va", "allons", "allez", "vont"};

struct Pronoun {
    const char *key, *en, *fr;  // key as written in Sentence::pronoun; en as it appears in the corpus
    int person;                 // 0 je, 1 tu, 2 il/elle, 3 nous, 4 vous, 5 ils/elles
};

// English has one "you" and one "they"; the corpus writes "you all" for vous and "they ( f )" for
// elles so that every English sentence has exactly one French translation.
const std::vector<Pronoun> kPronouns = {
    {"i", "i", "je", 0},         {"you", "you", "tu", 1},        {"he", "he", "il", 2},
    {"she", "she", "elle", 2},   {"we", "we", "nous", 3},        {"you all", "you all", "vous", 4},
    {"they", "they", "ils", 5},  {"they (f)", "they ( f )", "elles", 5},
};

struct Time {
    const char *en, *fr;
};
const std::vector<Time> kTimes = {{"every day", "chaque jour"}, {"every morning", "chaque matin"},
                                  {"yesterday", "hier"},         {"today", "aujourd'hui"},
                                  {"tomorrow", "demain"}};

const Noun& find_noun(const std::string& en) {
    for (const auto& n : kNouns)
        if (en == n.en) return n;
    fail<Error>("enfr: unknown noun \"{}\"", en);
}
const Adjective& find_adjective(const std::string& en) {
    for (const auto& a : kAdjectives)
        if (en == a.en) return a;
    fail<Error>("enfr: unknown adjective \"{}\"", en);
}
const Verb& find_verb(const std::string& en) {
    for (const auto& v : kVerbs)
        if (en == v.en) return v;
    fail<Error>("enfr: unknown verb \"{}\"", en);
}

bool starts_with_vowel(const std::string& w) {
    if (w.empty()) return false;
    if (std::string_view("aeiou").find(w[0]) != std::string_view::npos) return true;
    for (const char* v : {"é", "è", "ê", "à", "â", "î", "ô", "û"})
        if (w.starts_with(v)) return true;
    return false;
}

// French elision: je, ne, le, la, de drop their vowel before a vowel ("je ai" -> "j'ai",
// "ne a" -> "n'a"). Written as one token, as the WordTokenizer reads "j'ai".
std::vector<std::string> elide(const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::string& w = in[i];
        const bool elides = (w == "je" || w == "ne" || w == "le" || w == "la" || w == "de");
        if (elides && i + 1 < in.size() && starts_with_vowel(in[i + 1])) {
            out.push_back(w.substr(0, 1) + "'" + in[i + 1]);
            ++i;
        } else {
            out.push_back(w);
        }
    }
    return out;
}

void append_words(std::vector<std::string>& out, const std::string& words) {
    for (auto& w : split_spaces(words)) out.push_back(std::move(w));
}

// English and French tokens of a noun phrase (French before elision).
void noun_phrase(const NounPhrase& np, bool negated_object, std::vector<std::string>& en,
                 std::vector<std::string>& fr) {
    const Noun& noun = find_noun(np.noun);
    const Adjective* adj = np.adjective.empty() ? nullptr : &find_adjective(np.adjective);
    const bool pl = np.plural, fem = noun.fem;
    auto by_form = [&](const char* ms, const char* fs, const char* p) { return pl ? p : fem ? fs : ms; };

    std::string det_en = np.det, det_fr;
    if (np.det == "the") {
        det_fr = by_form("le", "la", "les");
    } else if (np.det == "a") {
        if (pl) fail<Error>("enfr: determiner \"a\" needs a singular noun (use \"some\" for \"{}\")", noun.en_pl);
        // After a negated verb the indefinite article becomes "de": "elle ne mange pas de pomme".
        det_fr = negated_object ? "de" : fem ? "une" : "un";
        const std::string next = adj ? adj->en : noun.en;
        det_en = starts_with_vowel(next) ? "an" : "a";
    } else if (np.det == "some") {
        if (!pl) fail<Error>("enfr: determiner \"some\" needs a plural noun (use \"a\" for \"{}\")", noun.en);
        // des -> de after a negation, and before an adjective that precedes the noun ("de petites pommes").
        det_fr = (negated_object || (adj && adj->before)) ? "de" : "des";
        det_en = negated_object ? "any" : "some";
    } else if (np.det == "my") {
        det_fr = by_form("mon", "ma", "mes");
    } else if (np.det == "his" || np.det == "her") {
        det_fr = by_form("son", "sa", "ses");  // agrees with the thing owned, not the owner
    } else if (np.det == "our") {
        det_fr = pl ? "nos" : "notre";
    } else if (np.det == "their") {
        det_fr = pl ? "leurs" : "leur";
    } else if (np.det == "this") {
        det_fr = by_form("ce", "cette", "ces");
        det_en = pl ? "these" : "this";
    } else {
        fail<Error>("enfr: unknown determiner \"{}\" (the, a, some, my, his, her, our, their, this)", np.det);
    }

    en.push_back(det_en);
    if (adj) en.push_back(adj->en);
    en.push_back(pl ? noun.en_pl : noun.en);

    const char* adj_fr = adj ? (pl ? (fem ? adj->fp : adj->mp) : (fem ? adj->fs : adj->ms)) : nullptr;
    fr.push_back(det_fr);
    if (adj && adj->before) fr.push_back(adj_fr);
    fr.push_back(pl ? noun.fr_pl : noun.fr);
    if (adj && !adj->before) fr.push_back(adj_fr);
}

}  // namespace

TextPair render_noun_phrase(const NounPhrase& np, bool negated_object) {
    std::vector<std::string> en, fr;
    noun_phrase(np, negated_object, en, fr);
    return {join(en), join(elide(fr))};
}

TextPair render(const Sentence& s) {
    std::vector<std::string> en, fr;
    int person = 2;
    if (!s.pronoun.empty()) {
        const Pronoun* p = nullptr;
        for (const auto& q : kPronouns)
            if (s.pronoun == q.key) p = &q;
        if (!p)
            fail<Error>("enfr: unknown pronoun \"{}\" (i, you, he, she, we, you all, they, they (f))", s.pronoun);
        append_words(en, p->en);
        fr.push_back(p->fr);
        person = p->person;
    } else {
        noun_phrase(s.subject, false, en, fr);
        person = s.subject.plural ? 5 : 2;
    }
    const bool third_singular = person == 2;
    const std::size_t pi = static_cast<std::size_t>(person);
    const Verb& v = find_verb(s.verb);

    switch (s.tense) {
        case Tense::Present:
            // she eats / she does not eat  ->  elle mange / elle ne mange pas
            if (s.negated) {
                en.push_back(third_singular ? "does" : "do");
                en.push_back("not");
                append_words(en, v.en);
                fr.insert(fr.end(), {"ne", v.fr[pi], "pas"});
            } else {
                append_words(en, third_singular ? v.en_3sg : v.en);
                fr.push_back(v.fr[pi]);
            }
            break;
        case Tense::PasseCompose:
            // she has (not) eaten  ->  elle a mangé / elle n'a pas mangé
            en.push_back(third_singular ? "has" : "have");
            if (s.negated) en.push_back("not");
            append_words(en, v.en_pp);
            if (s.negated) fr.push_back("ne");
            fr.push_back(kAvoir[pi]);
            if (s.negated) fr.push_back("pas");
            fr.push_back(v.fr_pp);
            break;
        case Tense::NearFuture:
            // she is (not) going to eat  ->  elle va manger / elle ne va pas manger
            en.push_back(person == 0 ? "am" : third_singular ? "is" : "are");
            if (s.negated) en.push_back("not");
            en.insert(en.end(), {"going", "to"});
            append_words(en, v.en);
            if (s.negated) fr.push_back("ne");
            fr.push_back(kAller[pi]);
            if (s.negated) fr.push_back("pas");
            fr.push_back(v.fr_inf);
            break;
    }
    if (s.object) noun_phrase(*s.object, s.negated, en, fr);
    if (s.place) {
        if (s.place->plural || (s.place->det != "the" && s.place->det != "my" && s.place->det != "our" &&
                                s.place->det != "their"))
            fail<Error>("enfr: a place is singular with the, my, our or their, got \"{} {}\"", s.place->det,
                        s.place->noun);
        en.push_back("in");
        fr.push_back("dans");
        noun_phrase(*s.place, false, en, fr);
    }
    if (!s.time.empty()) {
        const Time* t = nullptr;
        for (const auto& q : kTimes)
            if (s.time == q.en) t = &q;
        if (!t) fail<Error>("enfr: unknown time \"{}\"", s.time);
        append_words(en, t->en);
        append_words(fr, t->fr);
    }
    return {join(en), join(elide(fr))};
}

}  // namespace enfr

namespace toy {
namespace {

struct Weighted {
    const char* det;
    unsigned weight;
};

const char* weighted_det(const std::vector<Weighted>& table, Rng& rng) {
    unsigned total = 0;
    for (const auto& w : table) total += w.weight;
    auto r = static_cast<unsigned>(rng.below(total));
    for (const auto& w : table) {
        if (r < w.weight) return w.det;
        r -= w.weight;
    }
    return table.back().det;
}

enfr::NounPhrase random_np(unsigned tags, Rng& rng) {
    using namespace enfr;
    std::vector<const Noun*> nouns;
    for (const auto& n : kNouns)
        if (n.tags & tags) nouns.push_back(&n);
    const Noun* noun = pick(nouns, rng);
    NounPhrase np;
    np.noun = noun->en;
    np.plural = chance(rng, 0.35);
    static const std::vector<Weighted> dets = {{"the", 40}, {"a", 18}, {"my", 10}, {"his", 8},
                                               {"her", 8},  {"our", 6}, {"their", 6}, {"this", 4}};
    np.det = weighted_det(dets, rng);
    if (np.det == std::string("a") && np.plural) np.det = "some";
    if (chance(rng, 0.35)) {
        std::vector<const Adjective*> adjs;
        for (const auto& a : kAdjectives)
            if (a.tags & noun->tags) adjs.push_back(&a);
        if (!adjs.empty()) np.adjective = pick(adjs, rng)->en;
    }
    return np;
}

std::size_t count_tokens(const std::string& s) { return split_spaces(s).size(); }

}  // namespace

std::vector<TextPair> generate_enfr(std::uint64_t seed, std::size_t n, const ToyTaskOptions& o) {
    using namespace enfr;
    if (o.max_words < 3) fail<Error>("generate_task enfr: max_words must be at least 3, got {}", o.max_words);
    Rng rng(seed);
    return distinct_pairs("enfr", n, [&]() -> std::optional<TextPair> {
        Sentence s;
        if (chance(rng, 0.55))
            s.pronoun = pick(kPronouns, rng).key;
        else
            s.subject = random_np(kPerson | kAnimal, rng);
        const Verb& v = pick(kVerbs, rng);
        s.verb = v.en;
        s.tense = static_cast<Tense>(rng.below(3));
        s.negated = chance(rng, 0.3);
        if (!(v.intransitive && chance(rng, 0.1))) s.object = random_np(v.objects, rng);
        if (chance(rng, 0.15)) {
            static const std::vector<Weighted> place_dets = {{"the", 6}, {"my", 2}, {"our", 1}, {"their", 1}};
            std::vector<const Noun*> places;
            for (const auto& p : kNouns)
                if (p.tags & kPlace) places.push_back(&p);
            NounPhrase place;
            place.det = weighted_det(place_dets, rng);
            place.noun = pick(places, rng)->en;
            s.place = place;
        }
        if (chance(rng, 0.15)) {
            static const std::vector<std::string> present = {"every day", "every morning"};
            static const std::vector<std::string> past = {"yesterday", "today"};
            static const std::vector<std::string> future = {"tomorrow", "today"};
            s.time = pick(s.tense == Tense::Present ? present : s.tense == Tense::PasseCompose ? past : future, rng);
        }
        TextPair p = render(s);
        const std::size_t ne = count_tokens(p.first), nf = count_tokens(p.second);
        if (ne < 3 || nf < 3 || ne > o.max_words || nf > o.max_words) return std::nullopt;
        return p;
    });
}

}  // namespace toy

}  // namespace seqgrad::data
