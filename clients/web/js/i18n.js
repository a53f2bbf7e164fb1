// The French words for every code of the API (DESIGN.md, daemon/validate.c).

export const KINDS = {
  iml: 'Intermédiation locative (IML)',
  alt: 'Logement ALT',
  studio_tiroir: 'Studio-tiroir',
  fjt: 'Foyer de jeunes travailleurs (FJT)',
  shared_flat: 'Colocation temporaire (F4)',
};

export const OFFER_GENDERS = { any: 'Tout public', female: 'Femmes', male: 'Hommes' };
export const GENDERS = { female: 'Femme', male: 'Homme', other: 'Autre' };
export const HOUSEHOLDS = { alone: 'Seul·e', couple: 'En couple', with_children: 'Avec enfant(s)' };
export const NEEDS = {
  wheelchair: 'Fauteuil roulant',
  mental_health: 'Santé mentale',
  addiction: 'Addictions',
  justice_followup: 'Suivi judiciaire',
  pregnancy: 'Grossesse',
};
export const SITUATIONS = {
  street: 'À la rue',
  emergency_shelter: "Hébergement d'urgence",
  precarious: 'Hébergement précaire',
  institution_exit: "Sortie d'institution (ASE, PJJ…)",
  family_breakdown: 'Rupture familiale',
};
export const AGE_BANDS = {
  '16-17': '16-17 ans',
  '18-21': '18-21 ans',
  '22-25': '22-25 ans',
  '26-29': '26-29 ans',
  other: 'autre âge',
};
export const SUPPORT = { light: 'Léger', standard: 'Standard', intensive: 'Renforcé' };
export const YOUTH_STATUSES = { waiting: 'En attente', placed: 'Hébergé·e', closed: 'Dossier clos' };
export const OFFER_STATUSES = { open: 'Ouverte', closed: 'Fermée' };
export const PLACEMENT_STATUSES = {
  proposed: 'Proposée',
  accepted: 'Acceptée',
  active: 'En cours',
  ended: 'Terminée',
  refused: 'Refusée',
  cancelled: 'Annulée',
  expired: 'Expirée',
};
export const REFUSAL_REASONS = {
  youth_declined: 'Le ou la jeune a décliné',
  no_show: "Ne s'est pas présenté·e",
  incompatible_needs: 'Besoins incompatibles',
  place_unavailable: 'Place indisponible',
  incomplete_file: 'Dossier incomplet',
  other: 'Autre motif',
};
export const DESTINATIONS = {
  durable_housing: 'Logement durable',
  fjt: 'Foyer de jeunes travailleurs',
  family: 'Retour en famille',
  institution: 'Institution',
  other_transitional: 'Autre hébergement temporaire',
  street: 'Rue',
  unknown: 'Inconnue',
};

// Eligibility rules, in the order the matcher checks them.
export const RULES = {
  closed: "Offre fermée ou hors de sa période d'ouverture",
  distance: 'Trop loin de la commune souhaitée',
  age: "Âge hors des limites de l'offre",
  gender: "Public de l'offre (femmes / hommes) non compatible",
  household: 'Composition du foyer non acceptée (couple, enfants)',
  pets: 'Animaux non acceptés',
  wheelchair: "Pas d'accès en fauteuil roulant",
  declined_recently: 'Offre déclinée récemment par le ou la jeune',
  stale: 'Places non reconfirmées par le porteur depuis trop longtemps',
  no_free_place: 'Aucune place libre sur toute la période souhaitée',
};

export const ROLES = { admin: 'Administration', referent: 'Référent SIAO', porteur: 'Porteur' };
// Notifications to people (GET /v1/me/notification-preferences).
export const NOTIFICATION_KINDS = {
  stay_ending: 'Fins de séjour proches',
  stay_overdue: 'Séjours dont la fin prévue est dépassée',
  proposal_new: 'Nouvelles propositions à examiner',
  proposal_answered: 'Réponses à mes propositions (acceptées, refusées, expirées)',
  proposal_reminder: 'Rappels de propositions sans réponse',
  capacity_available: 'Places qui se libèrent pour les jeunes que je suis',
};
export const NOTIFICATION_MODES = {
  immediate: 'Immédiatement (un e-mail)',
  digest: 'Dans le récapitulatif quotidien',
  off: 'Pas d’e-mail (dans siaod seulement)',
};

// Why an allocation plan leaves a young person without a place.
export const PLAN_WHY = {
  no_eligible_free_place: "Aucune offre du département avec une place libre ce jour-là ne lui convient",
  places_went_to_better_matches: 'Des offres lui convenaient, mais leurs places sont allées à des jeunes mieux classés',
  has_an_open_placement: 'A déjà une orientation en cours (proposée ou acceptée)',
};

export const FACTORS = {
  distance: 'Distance',
  duration: 'Durée de séjour',
  affordability: 'Coût',
  support: 'Accompagnement',
  availability: 'Disponibilité',
};

// Field error codes (errors[].code), with a few field-specific wordings.
export const ERROR_CODES = {
  'required': 'Ce champ est obligatoire.',
  'wrong_type': "Cette valeur n'a pas le format attendu.",
  'out_of_range': 'Cette valeur est hors des limites autorisées.',
  'unknown_value': "Cette valeur n'est pas reconnue.",
  'unknown_field': "Ce champ n'est pas accepté.",
  'invalid_utf8': 'Ce texte contient des caractères invalides.',
  'not_an_object': 'La requête est mal formée.',
  'too_long': 'Ce texte est trop long.',
  'ambiguous': 'Plusieurs possibilités : précisez (par exemple le département ou le code INSEE).',
  'duplicate': 'Déjà présent (en double).',
  'forbidden': 'Hors de votre périmètre.',
  'capacity-below-occupancy': 'La capacité ne peut pas descendre sous le nombre de places occupées ou réservées à partir d’aujourd’hui.',
};
const FIELD_ERRORS = {
  'commune_insee.unknown_value': 'Commune inconnue : tapez le début de son nom et choisissez-la dans la liste (ou tapez son code INSEE, par exemple 34301).',
  'commune_insee.wrong_type': 'Commune inconnue : tapez le début de son nom et choisissez-la dans la liste (ou tapez son code INSEE, par exemple 34301).',
  'commune_insee.required': 'Tapez le début du nom de la commune et choisissez-la dans la liste.',
  'departement.unknown_value': 'Département inconnu : par exemple 34, 2A ou 971.',
  'departement.wrong_type': 'Département inconnu : par exemple 34, 2A ou 971.',
  'birth_date.out_of_range': "Cette date de naissance n'est pas celle d'un ou d'une jeune.",
  'birth_date.wrong_type': 'Date attendue (jj/mm/aaaa).',
  'registered_at.out_of_range': "La date d'inscription ne peut pas être dans le futur.",
  'capacity.out_of_range': 'La capacité ne peut pas descendre sous le nombre de places occupées (ou dépasser 1000).',
  'max_stay_days.out_of_range': 'Durée hors limites (une colocation temporaire : 90 jours au plus).',
  'max_age.out_of_range': "L'âge maximum ne peut pas être inférieur à l'âge minimum.",
  'available_until.out_of_range': "La fin de disponibilité ne peut pas précéder son début.",
  'date.out_of_range': 'Date impossible pour cette action (jamais dans le futur, jamais avant l’entrée).',
  'planned_end_date.out_of_range': 'Date de fin au-delà de la durée maximale de l’offre.',
};

export function fieldMessage(field, code) {
  return FIELD_ERRORS[`${field}.${code}`] || ERROR_CODES[code] || 'Valeur refusée.';
}

// ------------------------------------------------------------------ errors
// The French catalogue of every error the UI can meet. Every problem `type`
// and every field error `code` of clients/openapi.yaml has its entry here
// (tests/api/test_openapi.py compares them; keep one quoted key per line),
// and the browser tests read what the UI shows from these tables. The API's
// own `detail` (English, for developers) is never shown.

// HTTP status → the title of the message (unknown statuses: ERROR_TITLE).
export const STATUS_TITLES = {
  '400': 'Demande invalide',
  '401': 'Connexion refusée',
  '403': 'Accès refusé',
  '404': 'Introuvable',
  '405': 'Action non permise',
  '408': 'Demande trop lente',
  '409': 'Conflit',
  '412': 'Modifié entre-temps',
  '413': 'Envoi trop volumineux',
  '414': 'Adresse trop longue',
  '415': 'Format refusé',
  '422': 'Action impossible',
  '429': 'Trop de demandes',
  '431': 'En-têtes trop volumineux',
  '500': 'Erreur interne du service',
  '501': 'Action inconnue',
  '502': 'Réponse invalide d\'un service extérieur',
  '503': 'Service momentanément indisponible',
};
export const ERROR_TITLE = 'Erreur';

// problem type (/problems/<slug>) → a French sentence, or a function of the
// problem when the sentence carries one of its members (a count, a date).
export const PROBLEMS = {
  'invalid-json': 'La demande est mal formée : rechargez la page et réessayez.',
  'invalid-field': 'Certains champs sont à corriger : voyez les messages sous les champs.',
  'invalid-query': 'Un filtre de la recherche est invalide.',
  'invalid-idempotency-key': "La demande n'a pas pu être identifiée : rechargez la page et réessayez.",
  'unauthorized': 'Jeton absent, inconnu, expiré ou révoqué : collez un jeton valide.',
  'forbidden': 'Votre jeton ne donne pas accès à cette ressource ou à cette action.',
  'not-found': "Cette fiche n'existe pas (ou plus).",
  'method-not-allowed': "Cette action n'est pas permise ici.",
  'conflict': "Conflit avec l'état actuel : rechargez la page et réessayez.",
  'no-free-place': "Plus aucune place de cette offre n'est libre sur toute la période.",
  'open-placement-exists': 'Ce ou cette jeune a déjà une orientation en cours (proposée, acceptée ou active).',
  'youth-not-waiting': "Ce ou cette jeune n'est pas en attente d'une place.",
  'youth-placed': "Ce ou cette jeune est hébergé·e : son statut suit son séjour, enregistrez d'abord sa sortie.",
  'illegal-transition': "Cette action n'est plus possible dans l'état actuel de l'orientation.",
  'capacity-below-occupancy': (p) => (Number.isInteger(p.min_capacity)
    ? `${plural(p.min_capacity, 'place est occupée ou réservée', 'places sont occupées ou réservées')} à partir d'aujourd'hui : `
      + `la capacité ne peut pas descendre sous ${p.min_capacity}.`
    : 'La capacité ne peut pas descendre sous le nombre de places déjà occupées ou réservées.'),
  'not-failed': 'Seul un envoi en échec peut être renvoyé.',
  'webhook-disabled': 'Cet abonnement est désactivé : réactivez-le avant de renvoyer.',
  'idempotency-in-progress': 'La même demande est encore en cours : patientez un instant.',
  'idempotency-key-reused': 'Cette demande a déjà été envoyée avec un autre contenu : rechargez la page et réessayez.',
  'precondition-failed': "La fiche a été modifiée par quelqu'un d'autre entre-temps : la page a été rechargée, refaites la modification.",
  'body-too-large': 'Envoi trop volumineux.',
  'bad-request': "La demande n'a pas été comprise par le service : rechargez la page et réessayez.",
  'request-timeout': "La demande est arrivée trop lentement et a été abandonnée : vérifiez la connexion et réessayez.",
  'uri-too-long': "L'adresse demandée est trop longue : raccourcissez la recherche.",
  'headers-too-large': "La demande porte trop d'en-têtes : fermez l'onglet, rouvrez la page et réessayez.",
  'not-implemented': "Cette action n'existe pas sur ce service.",
  'unsupported-media-type': 'Format de requête refusé.',
  'not-eligible': "Ce ou cette jeune n'est pas éligible à cette offre.",
  'import-invalid': "Le fichier contient des erreurs : rien n'a été importé. Corrigez les lignes signalées puis recommencez.",
  'beyond-cap': (p) => (p.max_end_date
    ? `Le séjour dépasserait la durée maximale de l'offre : fin au plus tard le ${p.max_end_date.split('-').reverse().join('/')}.`
    : "Le séjour dépasserait la durée maximale de l'offre."),
  'not-in-plan': 'Cette paire ne fait pas partie du plan.',
  'plan-not-done': "Ce plan n'a pas encore de résultat à appliquer : patientez jusqu'à la fin de son calcul.",
  'apply-in-progress': "Ce plan est déjà en cours d'application : patientez jusqu'à la fin.",
  'plan-failed': "Le calcul du plan n'a pas abouti : relancez-le dans un instant.",
  'too-many-plans': 'Trop de plans sont en cours de calcul : réessayez dans quelques instants.',
  'workers-busy': 'Trop de fichiers sont en cours de lecture : réessayez dans quelques instants.',
  'rate-limited': 'Trop de demandes : patientez quelques secondes.',
  'database-unavailable': 'La base de données ne répond pas : réessayez dans un instant.',
  'unavailable': 'Le service est momentanément indisponible : réessayez dans un instant.',
  'out-of-memory': 'Le service est surchargé : réessayez dans un instant.',
  'internal': "Erreur interne du service : réessayez plus tard et, si elle revient, prévenez l'administration.",
  'bad-request': 'La demande est mal formée : rechargez la page et réessayez.',
  'headers-too-large': 'La demande est trop volumineuse (en-têtes) : rechargez la page.',
  'not-implemented': "Cette méthode n'est pas prise en charge.",
  'request-timeout': 'La demande a mis trop de temps à arriver : vérifiez la connexion et réessayez.',
  'uri-too-long': "L'adresse demandée est trop longue.",
  // people: accounts, sessions, sign-in
  'account-disabled': 'Ce compte est désactivé.',
  'csrf': 'Demande refusée par sécurité (jeton de session manquant ou autre origine) : rechargez la page.',
  'invalid-credentials': 'Adresse e-mail ou mot de passe incorrect.',
  'link-invalid': "Ce lien n'est plus valable (déjà utilisé ou expiré) : demandez-en un nouveau.",
  'login-throttled': (p) => (Number.isInteger(p.retry_after_seconds)
    ? `Trop de tentatives de connexion : réessayez dans ${plural(Math.ceil(p.retry_after_seconds / 60), 'minute', 'minutes')}.`
    : 'Trop de tentatives de connexion : réessayez dans quelques minutes.'),
  'mail-off': "L'envoi de courriels n'est pas configuré : demandez un nouveau lien à un administrateur.",
  'weak-password': 'Mot de passe refusé : au moins 12 caractères, et pas un mot de passe courant.',
  'password-login-off': "La connexion par mot de passe n'est pas activée.",
  'no-account': "Ce jeton n'appartient à aucun compte personnel.",
};
// current_status of a problem, in the words of what it is the status of.
export const DELIVERY_STATUSES = { pending: 'En attente', delivering: "En cours d'envoi", succeeded: 'Réussi', failed: 'En échec' };
export const CURRENT_STATUS = {
  'illegal-transition': ["État actuel de l'orientation : ", PLACEMENT_STATUSES],
  'youth-placed': ['Statut actuel du dossier : ', YOUTH_STATUSES],
  'not-failed': ["État actuel de l'envoi : ", DELIVERY_STATUSES],
};
export function currentStatusText(problem) {
  const slug = String((problem && problem.type) || '').replace('/problems/', '');
  const [prefix, map] = CURRENT_STATUS[slug] || ['État actuel : ', PLACEMENT_STATUSES];
  return `${prefix}${label(map, problem.current_status)}.`;
}

// A problem type the catalogue does not know (a newer server, say).
export const UNKNOWN_PROBLEM = 'Le service a refusé cette demande pour une raison que cette page ne sait pas expliquer.';
// No answer at all (network down, service stopped).
export const NETWORK_TITLE = 'Réseau';
export const NETWORK_DOWN = 'Le service siaod ne répond pas (réseau coupé ou service arrêté).';

// The title and sentence the UI shows for a problem answer.
export function problemTitle(status) {
  if (status === 0) return NETWORK_TITLE;
  return STATUS_TITLES[String(status)] || ERROR_TITLE;
}
export function problemSentence(problem, status) {
  if (status === 0) return NETWORK_DOWN;
  const t = (problem && problem.type) || '';
  const entry = t.startsWith('/problems/') ? PROBLEMS[t.slice('/problems/'.length)] : undefined;
  if (typeof entry === 'function') return entry(problem);
  return entry || UNKNOWN_PROBLEM;
}

// Lower case for use inside a sentence, acronyms kept (ASE, PJJ, SIAO, FJT).
export function lower(text) {
  return String(text).replace(/\p{L}[\p{L}\p{N}]*/gu, (w) => (/^\p{Lu}[\p{Lu}\p{N}]+$/u.test(w) ? w : w.toLowerCase()));
}

export function label(map, code) {
  if (code === null || code === undefined || code === '') return '—';
  return map[code] || code;
}

export function plural(n, one, many) {
  return `${n} ${n === 1 || n === -1 || n === 0 ? one : many}`;
}

export function euros(v) {
  return new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR', maximumFractionDigits: 2 }).format(v || 0);
}

const NUM = new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 });
const PCT = new Intl.NumberFormat('fr-FR', { style: 'percent', maximumFractionDigits: 1 });

// A count or a mean, French style (1 234,5); '—' for null.
export function num(v) {
  return v === null || v === undefined ? '—' : NUM.format(v);
}

// A rate in [0, 1] as a percentage (80 %); '—' for null (nothing to divide by).
export function pct(v) {
  return v === null || v === undefined ? '—' : PCT.format(v);
}

export function km(v) {
  return `${new Intl.NumberFormat('fr-FR', { maximumFractionDigits: 1 }).format(v)} km`;
}
