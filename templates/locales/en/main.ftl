# English texts. Keys are used in the page templates as t("key"); variables are passed by name,
# numbers as numbers so the plural forms are chosen: t("email-invite-validity", days=invite_days).
product-name = Leasify ID
language-switch = Choose language
login-title = Log in
login-heading = Log in
login-for-app = You are logging in to
field-email = Email address
field-password = Password
login-submit = Log in
login-invalid = Wrong email or password.
login-throttled = Too many failed attempts. Wait a while and try again.
home-intro = This is where you log in to Leasify's services.
home-logged-in-as = You are logged in as
form-post-title = Continuing …
form-post-noscript = JavaScript is turned off. Press the button to continue.
form-post-continue = Continue
error-title = Something went wrong
error-reference = Error reference:
error-missing-client-id = The link does not say which service you want to log in to. Go back to the service and try again.
error-unknown-client = The service that sent you here is not registered with Leasify ID.
error-missing-redirect-uri = The link does not say where to send you back to. Go back to the service and try again.
error-unregistered-redirect-uri = The service asked to send you to an address that is not registered. For your safety you are not sent there.
error-request-expired = The login took too long or has already finished. Go back to the service and start again.
error-invalid-csrf = The form had expired. Reload the page and try again.
error-bad-request = The request could not be understood.
error-not-found = The page does not exist.
error-internal = A technical error occurred. Please try again in a while.
error-unavailable = The service is temporarily unavailable. Please try again in a moment.

# Email
email-invite-subject = Welcome to Leasify – choose your password
email-reset-subject = Reset your Leasify password
email-password-changed-subject = Your password has been changed
email-personnummer-removed-subject = The personal identity number was removed from your Leasify account
email-pnr-removed-intro = The personal identity number saved on your Leasify account has been removed.
email-pnr-removed-why = The holder of the number has confirmed it with BankID on another account. A number can be linked to one account only.
email-pnr-removed-yours = If the number is yours, contact us:
email-pnr-removed-account = You still log in with your email and password as usual. Your details:
email-greeting = Hello
email-invite-intro = Welcome to Leasify! An account has been created for you. Choose a password to log in to the Leasify portal.
email-invite-button = Choose password
email-invite-validity = The link is valid for { $days ->
        [one] { $days } day
       *[other] { $days } days
    }.
email-invite-bankid = Once you have logged in, you can add your personal identity number under My details and then log in with BankID.
email-link-once = It can only be used once.
email-read-more = Read more
email-link-fallback = Button not working? Copy the link into your browser:
email-reset-intro = Someone (hopefully you) asked to reset the password of your Leasify account.
email-reset-button = Choose a new password
email-reset-validity = The link is valid for { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }.
email-reset-not-you = If it was not you, ignore this message. Your password does not change until you choose a new one.
email-changed-intro = The password of your Leasify account has just been changed.
email-changed-sessions = For your safety you have been logged out on other devices.
email-changed-not-you = Was it not you? Reset your password at once and contact us:
email-footer-help = Help:
email-footer-support = Support:

# My details, passwords
login-forgot = Forgot your password?
account-title = My details
account-details = Your details
account-email-help = Contact us if you need to change your email address.
account-save = Save
account-saved = Your details are saved.
account-change-password = Change password
account-save-password = Change password
account-password-changed = Your password is changed. You have been logged out on other devices.
field-name = Name
field-language = Language
field-current-password = Current password
field-new-password = New password
field-confirm-password = Repeat new password
password-rules = At least { $min ->
        [one] { $min } character
       *[other] { $min } characters
    }. Choose something hard to guess, such as several words in a sentence.
password-too-short = The password is too short. It must have at least { $min ->
        [one] { $min } character
       *[other] { $min } characters
    }.
password-too-long = The password is too long.
password-mismatch = The passwords are not the same. Type the same password in both fields.
password-weak = The password is too easy to guess. Avoid common words, your name and simple patterns – several words work well.
current-password-wrong = The current password is not correct.
account-throttled = Too many attempts. Wait a while and try again.
invalid-name = The name must not be empty.
name-too-long = The name can be at most 200 characters.
name-control-characters = The name must not contain line breaks, tabs or other control characters.
logout = Log out
logged-out-title = You are logged out
logged-out-message = You have been logged out of Leasify ID.
login-again = Log in again
set-password-invite-title = Choose a password
set-password-reset-title = Choose a new password
set-password-for = Account:
set-password-submit = Save password
forgot-title = Forgot your password?
forgot-intro = Enter your email address and we will send you a link to choose a new password.
forgot-submit = Continue
forgot-sent-title = Check your email
forgot-sent-message = If we have an account for that address, we have sent a link to choose a new password. The link is valid for { $minutes ->
        [one] { $minutes } minute
       *[other] { $minutes } minutes
    }. No email? Check your spam folder.
back-to-login = Back to login
link-used-title = The link has already been used
link-used-message = The link has already been used and only works once. We can send a new link to the same email address.
link-expired-title = The link has expired
link-expired-message = The link is no longer valid. We can send a new link to the same email address.
link-unknown-title = The link does not work
link-unknown-message = The link is not valid. Check that you copied the whole link, or ask for a new one with Forgot your password.
link-resend = Send a new link
link-resent-title = Check your email
link-resent-message = If the account still exists, we have sent a new link to the same email address.
password-set-title = The password is saved

# --- Personnummer and BankID messages (src/account/personnummer.rs, src/bankid/messages.rs, src/bankid/qr.rs) ---
# Personnummer input errors (PersonnummerError::message_key).
pnr-invalid-format = Check that the personal identity number has 10 or 12 digits, for example 811228-9874.
pnr-invalid-date = The personal identity number does not contain a valid date. Check the date of birth.
pnr-invalid-checksum = The personal identity number is not valid. Check that every digit is right, especially the last four.
pnr-future-date = The date of birth in the personal identity number is in the future. Check the year.
# BankID's recommended user messages (RFA), with BankID's typos fixed, and two of our own.
bankid-rfa1 = Start your BankID app.
bankid-rfa2 = You don't seem to have the BankID app. Install the app and get a BankID.
bankid-rfa3 = The action was cancelled. Please try again.
bankid-rfa4 = An identification or signature is already in progress for your personal identity number. Please try again.
bankid-rfa5 = Something went wrong. Please try again.
bankid-rfa6 = The action was cancelled.
bankid-rfa8 = The BankID app is not responding. Please check that it's started and that you have internet access. Try again.
bankid-rfa9 = Enter your security code in the BankID app and select Identify or Sign.
bankid-rfa13 = Trying to start your BankID app.
bankid-rfa15a = Searching for BankID. Make sure you have a valid BankID on this computer. If you have a BankID on card, please insert the card into your card reader.
bankid-rfa15b = Searching for BankID. Make sure you have a valid BankID on this device.
bankid-rfa16 = Your BankID is blocked or too old. Please use another BankID or get a new one from your bank.
bankid-rfa17a = You don't seem to have the BankID app/program. Please install it and get a BankID from your bank.
bankid-rfa17b = Failed to scan the QR code. Start the BankID app and scan the QR code.
bankid-rfa19 = Would you like to use BankID on this computer, or a Mobile BankID?
bankid-rfa20 = Do you want to use BankID on this device or another device?
bankid-rfa21 = An identification or signing is in progress.
bankid-rfa22 = Something went wrong. Please try again.
bankid-rfa23 = Take a photo of, and scan, your ID document with the BankID app.
bankid-confirm-call = Confirm in the BankID app that you are in a call with us.
bankid-update-app = Update the BankID app and try again.
bankid-qr-label = QR code for BankID. Scan it with the BankID app.

# Personal identity number in My details
account-personnummer = Personal identity number
account-personnummer-intro = Add your Swedish personal identity number to link BankID later and log in with it. The number is stored encrypted.
account-personnummer-none = No personal identity number saved.
account-personnummer-saved-as = Saved number:
account-personnummer-bankid-linked = BankID is linked.
account-personnummer-bankid-not-linked = BankID is not linked yet.
field-personnummer = Personal identity number (YYYYMMDD-NNNN)
field-password-confirm = Your password (to confirm)
account-personnummer-save = Save number
account-personnummer-remove = Remove number
account-personnummer-saved = The personal identity number is saved.
account-personnummer-removed = The personal identity number is removed.
bankid-verified-elsewhere = Your BankID is already linked to another Leasify account. Log in with BankID to reach that account, or contact support to move the link.

# BankID pages
bankid-title = Log in with BankID
bankid-link-title = Link BankID
bankid-complete = Done! Taking you onwards …
bankid-open-on-this-device = Open BankID on this device
bankid-cancel = Cancel
bankid-try-again = Try again
bankid-noscript = This page needs JavaScript to show the QR code. Open BankID on this device instead.
bankid-no-linked-account = No account here has BankID linked for your personal identity number. Log in with email and password, add your number under My details and choose Link BankID.
bankid-account-disabled = The account is blocked. Contact support.
bankid-wrong-person = The personal identity number does not match the one you entered. The BankID used belongs to someone else, so nothing was linked. Check the number under My details, or scan with your own BankID.
login-with-bankid = Log in with BankID
login-or = or
account-bankid-link = Show QR code
account-bankid-linked = BankID is linked. Next time you can log in with BankID.

logout-confirm-title = Log out?
logout-confirm-message = Do you want to log out of Leasify ID?
logout-confirm-unverified = The logout request came from an app that could not be identified.
logout-confirm-invalid-hint = The logout request could not be verified.
logout-confirm-unregistered = The app asked to send you to an address that is not registered, so you will stay here after logging out.
logout-confirm-another-user = The logout request was for another user than the one logged in here.
logout-confirm-button = Log out
logout-stay = Stay logged in
login-bankid-required = The app requires logging in with BankID.

consent-title = Allow access
consent-intro = The app would like access to the following about you:
consent-approve = Allow
consent-deny = Deny
consent-revocable = You can withdraw access at any time under My details.
scope-openid = Your user id at Leasify ID
scope-profile = Your name and language
scope-email = Your email address
scope-offline_access = Staying signed in to the app while you are not using it
scope-personnummer = Your personal identity number
consents-heading = Apps with access
consents-none = No apps have been given access.
activity-heading = Recent activity
activity-none = No logins yet.
activity-method-password = Login with password
activity-method-bankid = Login with BankID
activity-failed = failed
consents-revoke = Withdraw
consents-granted = Allowed
consent-revoked = Access has been withdrawn.
error-forbidden = You do not have access to this page.
login-reauth = Confirm it is you: log in again to continue.
console-title = Administration
console-nav = Administration
console-users = Users
console-invite = Invite a customer
console-signed-in-as = Signed in as { $email }
console-role-admin = administrator
console-role-support = support
console-role-none = None
console-search-label = Search users
console-search-help = Email address, name or the full personal identity number (YYYYMMDD-NNNN).
console-search = Search
console-search-for = Results for “{ $term }”
console-search-personnummer = Results for the personal identity number { $number }
console-no-matches = No user matches the search.
console-no-users = There are no users yet.
console-pages = Pages
console-first-page = First page
console-next-page = Next page
console-badge-invited = Invited
console-badge-active = Active
console-badge-disabled = Disabled
console-badge-bankid = BankID linked
console-badge-admin = Administrator
console-badge-support = Support
console-back-to-users = ← All users
console-user-details = Details
console-user-created = Created
console-user-password = Password
console-password-set = Chosen
console-password-not-set = Not chosen yet
console-personnummer-none = None
console-personnummer-unreadable = Stored (cannot be shown)
console-bankid-linked = Linked
console-bankid-not-linked = Not linked
console-user-role = Role in administration
console-actions = Actions
console-resend-invitation = Send the invitation again
console-send-reset = Send a link to choose a new password
console-disable = Disable the user
console-enable = Enable the user
console-end-sessions = Log out everywhere
console-remove-personnummer = Remove the personal identity number and BankID link
console-sessions = Active sessions
console-session-started = logged in
console-session-expires = expires
console-sessions-none = No active sessions.
console-consents = Apps with access
console-consents-none = No app has been given access.
console-events = Recent events
console-events-none = No events yet.
console-actor-self = by the user
console-actor-user = by an administrator
console-actor-client = through the admin API
console-actor-system = by the system
console-event-failed = failed
console-delete = Delete the user
console-delete-warning = Their personal data is erased and cannot be restored. The event log is kept without their name and email address.
console-delete-confirm = Type { $email } to confirm
console-delete-mismatch = What you typed does not match the user's email address.
console-delete-button = Delete for good
console-invite-intro = The customer gets a welcome email with a link to choose a password.
console-invite-language = Language of emails and pages
console-invite-submit = Send the invitation
console-invite-email-invalid = Enter a valid email address.
console-invite-name-invalid = Enter a name, at most 200 characters and without line breaks.
console-invite-locale-invalid = Choose Swedish or English.
console-invite-exists = There is already a user with that email address.
console-invite-find = Show the user
console-notice-invited = The invitation has been sent.
console-notice-invitation-sent = A new email has been sent.
console-notice-disabled = The user is disabled and cannot log in.
console-notice-enabled = The user is enabled again.
console-notice-sessions-ended = The user is logged out everywhere.
console-notice-personnummer-removed = The personal identity number and the BankID link are removed.
console-notice-deleted = The user has been deleted.
console-problem-enable-first = The user is disabled. Enable them first.
console-problem-own-account = You cannot do that to your own account here.
